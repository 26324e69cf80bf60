"""The studio's navigation: its sections, in order, and who sees each.

A capability that lands later adds its section here and its pages in ``_pages``; a
section names the permissions that show it (any one of them), so a role that may not
use a section never sees it: an annotator (``label`` alone) sees Labeling only, where
a reader sees every job's progress and an annotator its own queues.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.tokens import Principal


@dataclass(frozen=True)
class Section:
    title: str
    #: Its path under the studio's prefix.
    path: str
    #: Any one of these shows the section.
    permissions: tuple[str, ...] = ("read",)


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
    Section("Labeling", "/labeling", ("read", "label")),
)


def visible_sections(principal: Principal) -> list[Section]:
    return [s for s in SECTIONS if any(principal.can(p) for p in s.permissions)]
