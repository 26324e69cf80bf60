"""Response models of the lineage route: a graph of typed nodes and directed edges."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from shipyard.api.schemas._common import Out


class LineageNode(Out):
    """One object: a dataset version, a job, a model version, an endpoint, its capture, a
    monitor, a monitoring execution, or a type a plug-in adds (``execution``)."""

    id: str = Field(description="Its typed reference: dataset:NAME:VERSION, job:JOB_ID, "
                    "model:GROUP:VERSION, endpoint:NAME, capture:ENDPOINT, monitor:NAME, "
                    "monitor-execution:MONITOR:SEQ.")
    type: str = Field(description="The text before the id's first colon.")
    label: str
    attributes: dict[str, str | int | float | bool | None] = Field(
        description="What tells it apart at a glance: status, kind, rows, created_at "
        "(ISO 8601)…; missing: true when the object no longer exists.")


class LineageEdge(Out):
    """``from`` led to ``to``: edges point the way things were made."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from", description="The node id it starts at.")
    to: str = Field(description="The node id it ends at.")
    relation: str = Field(description="input_of, produced, registered_as, serves, captured, "
                          "monitored_by, baseline_of, checked, submitted, triggered, or a "
                          "plug-in's own.")


class Lineage(Out):
    """What made ``root`` (upstream) and what it made (downstream)."""

    root: str = Field(description="The root's node id (a shorthand resolved: dataset:churn "
                      "→ dataset:churn:3).")
    direction: Literal["upstream", "downstream", "both"]
    depth: int = Field(description="Links away from the root the walk went, at most.")
    nodes: list[LineageNode] = Field(description="The root first, then in the order met.")
    edges: list[LineageEdge]
    truncated: bool = Field(description="The walk stopped at its node cap; more exists. Ask "
                            "for less depth or one direction.")
