"""Lineage references: the typed ids of nodes, and the shorthands a person may type.

A node id is ``TYPE:KEY`` (``dataset:churn:3``, ``job:job-1a2b``, ``model:churn:3``,
``endpoint:churn``, ``capture:churn``, ``monitor:churn-watch``,
``monitor-execution:churn-watch:2``). A reference may leave out what is unambiguous: a
dataset's or a model group's version (the latest), and ``job:`` before a job id.

One evaluation of a monitor is a *monitoring execution* (the glossary: "run" is a training
job in an experiment), hence ``monitor-execution``; ``monitor-run:MONITOR:SEQ`` is read as
the same thing, since the lineage issue spelled it so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidRequest
from shipyard.names import check_name

#: Every form a reference may take, as an error names them.
FORMS = ("dataset:NAME[:VERSION]", "job:JOB_ID (or a bare job-… id)", "model:GROUP[:VERSION]",
         "endpoint:NAME", "capture:ENDPOINT", "monitor:NAME", "monitor-execution:MONITOR:SEQ")
#: The node types the built-in reader knows.
BUILTIN_TYPES = ("dataset", "job", "model", "endpoint", "capture", "monitor",
                 "monitor-execution")
#: Other spellings a person may type, and the type they mean.
_ALIASES = {"monitor-run": "monitor-execution"}
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


@dataclass(frozen=True)
class Ref:
    """A parsed reference: its type and the parts of its key; ``version`` None is latest."""

    type: str
    name: str
    version: int | None = None

    @property
    def id(self) -> str:
        """The node id (only for a reference with every part given)."""
        return f"{self.type}:{self.name}" + ("" if self.version is None else f":{self.version}")


def _bad(ref: str, extra: tuple[str, ...] = ()) -> InvalidRequest:
    forms = "; ".join((*FORMS, *(f"{t}:…" for t in extra)))
    return InvalidRequest(f"{ref!r} is not a lineage reference; write one of: {forms}.")


def _number(ref: str, text: str, extra: tuple[str, ...]) -> int | None:
    if text in ("", "latest"):
        return None
    if not _NUMBER.fullmatch(text):
        raise _bad(ref, extra)
    return int(text)


def parse_ref(ref: str, extra_types: tuple[str, ...] = ()) -> Ref:
    """Parse a reference typed by a person (see the module docstring).

    Args:
        ref: the reference.
        extra_types: node types providers own; their keys are theirs to check.

    Raises:
        InvalidRequest: not one of the accepted forms (the message lists them).
    """
    ref = ref.strip() if isinstance(ref, str) else ""
    if ref.startswith("job-") and _JOB_ID.fullmatch(ref):
        return Ref("job", ref)
    type_, sep, key = ref.partition(":")
    if not sep or not key:
        raise _bad(ref, extra_types)
    type_ = _ALIASES.get(type_, type_)
    if type_ in extra_types and type_ not in BUILTIN_TYPES:
        return Ref(type_, key)
    parts = key.split(":")
    try:
        if type_ in ("dataset", "model") and len(parts) <= 2:
            name = check_name(parts[0], f"{type_} name")
            return Ref(type_, name, _number(ref, parts[1] if len(parts) == 2 else "",
                                            extra_types))
        if type_ == "job" and len(parts) == 1 and _JOB_ID.fullmatch(parts[0]):
            return Ref("job", parts[0])
        if type_ in ("endpoint", "capture", "monitor") and len(parts) == 1:
            return Ref(type_, check_name(parts[0], f"{type_} name"))
        if type_ == "monitor-execution" and len(parts) == 2:
            seq = _number(ref, parts[1], extra_types)
            if seq is not None:
                return Ref(type_, check_name(parts[0], "monitor name"), seq)
    except InvalidRequest:
        raise _bad(ref, extra_types) from None
    raise _bad(ref, extra_types)

