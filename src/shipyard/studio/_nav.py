"""The studio's navigation: its sections, in order, and who sees each.

A capability that lands later (labeling) adds its section here and its
pages in ``_pages``; a section names the permission a principal needs to see it, so a
role that may not use a section (an annotator, later) never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.tokens import Principal


@dataclass(frozen=True)
class Section:
    title: str
    #: Its path under the studio's prefix.
    path: str
    permission: str = "read"


SECTIONS: tuple[Section, ...] = (
    Section("Home", ""),
    Section("Datasets", "/datasets"),
    Section("SQL", "/sql"),
    Section("Jobs", "/jobs"),
    Section("Experiments", "/experiments"),
    Section("Models", "/models"),
    Section("Endpoints", "/endpoints"),
    Section("Monitors", "/monitors"),
    Section("Pipelines", "/pipelines"),
    Section("Canvas", "/canvas"),
)


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if principal.can(s.permission)]
