"""Asking an endpoint's instances directly: flush your capture, what did you count.

Off the invocation path: a manual monitor run asks every running instance to write
its captured rows now (``POST /capture/flush``), and ``GET /endpoints/{name}`` sums
the categories the instances met that their model never saw (``GET /health``). An
instance that does not answer is skipped, never waited on for long.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

import httpx

log = logging.getLogger("shipyard.endpoints")

#: Seconds an instance gets to write its buffer (it first lets invocations in flight end).
FLUSH_TIMEOUT = 15.0
HEALTH_TIMEOUT = 0.5


class _Instance(Protocol):
    name: str

    @property
    def url(self) -> str: ...

    def alive(self) -> bool: ...


def flush_captures(instances: Iterable[_Instance], http: httpx.Client) -> list[str]:
    """Ask each live instance to write its capture buffer now; the instances that did."""
    done = []
    for inst in instances:
        if not inst.alive():
            continue
        try:
            r = http.post(inst.url + "/capture/flush", timeout=FLUSH_TIMEOUT)
        except httpx.HTTPError as exc:
            log.warning("instance %s did not flush its capture: %s", inst.name, exc)
            continue
        if r.status_code == 200:
            done.append(inst.name)
        else:  # an instance of an older version: it flushes every second on its own
            log.warning("instance %s answered %d to a capture flush", inst.name, r.status_code)
    return done


def unseen_summary(instances: Iterable[_Instance], http: httpx.Client) -> dict[str, Any]:
    """Categories never seen in training, summed over the instances that answer.

    ``{"rows": N, "columns": {column: {"rows": n, "values": {category: n}}}}``, counted
    since each instance started.
    """
    rows = 0
    columns: dict[str, dict[str, Any]] = {}
    for inst in instances:
        try:
            doc = http.get(inst.url + "/health", timeout=HEALTH_TIMEOUT).json()
        except (httpx.HTTPError, ValueError):
            continue
        unseen = doc.get("unseen_categories") if isinstance(doc, dict) else None
        if not isinstance(unseen, dict):
            continue
        rows += int(unseen.get("rows") or 0)
        for column, entry in (unseen.get("columns") or {}).items():
            into = columns.setdefault(column, {"rows": 0, "values": {}})
            into["rows"] += int(entry.get("rows") or 0)
            for value, n in (entry.get("values") or {}).items():
                into["values"][value] = into["values"].get(value, 0) + int(n)
    return {"rows": rows, "columns": columns}
