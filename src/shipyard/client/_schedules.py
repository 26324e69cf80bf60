"""``sy.Schedule``: run a job spec every interval or on a cron expression, on the server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client._client import Client, Resource, default_client

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

LIST_COLUMNS = ["name", "kind", "timing", "status", "next_run_at", "last_run_at",
                "last_job_id", "last_error"]


class Schedule(Resource):
    """A schedule on the server: ``sy.Schedule("nightly")`` loads one."""

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/schedules/{quote(self.name, safe='')}{suffix}"

    @classmethod
    def create(cls, name: str, job: Mapping[str, Any] | None = None, *,
               every: str | None = None, cron: str | None = None, kind: str = "job",
               target: Mapping[str, Any] | None = None,
               client: Client | None = None) -> Schedule:
        """Create a schedule that submits ``job`` (a job spec) every ``every`` ("15m", "1h")
        or on ``cron`` ("0 6 * * *", UTC); other kinds take their ``target``."""
        c = client or default_client()
        body: dict[str, Any] = {"name": name, "kind": kind,
                                "target": {"spec": dict(job)} if job is not None
                                else dict(target or {})}
        if every is not None:
            body["every"] = every
        if cron is not None:
            body["cron"] = cron
        doc = c.post("/schedules", body)
        return cls(doc["name"], client=c, _doc=doc)

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        import pandas as pd

        docs = (client or default_client()).get("/schedules")
        return pd.DataFrame([{k: d.get(k) for k in LIST_COLUMNS} for d in docs],
                            columns=LIST_COLUMNS)

    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def enabled(self) -> bool:
        return bool(self._doc.get("enabled"))

    @property
    def last_job_id(self) -> str | None:
        return self._doc.get("last_job_id")

    def pause(self) -> Schedule:
        self._doc = self.client.post(self._path("/pause"))
        return self

    def resume(self) -> Schedule:
        self._doc = self.client.post(self._path("/resume"))
        return self

    def delete(self) -> dict[str, Any]:
        """Delete the schedule (the jobs it started stay); the API's DELETE answer."""
        return dict(self.client.delete(self._path()))

    def __repr__(self) -> str:
        return (f"<Schedule {self.name} {self._doc.get('timing')} "
                f"{self._doc.get('status')}>")
