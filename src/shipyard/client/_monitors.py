"""Model monitors: ``sy.Monitor.create("churn-drift", endpoint="churn", baseline="churn")``.

A monitor watches an endpoint's captured invocations against a baseline dataset:
data quality against the baseline's constraints, drift per column and of the
predictions, and, once ground truth is uploaded, model quality over time::

    mon = sy.Monitor.create("churn-drift", endpoint="churn", baseline="churn", every="1h")
    execution = mon.run(wait=True)            # or wait for the schedule
    mon.report()                              # the latest report (renders in Jupyter)
    mon.upload_ground_truth(labels_df)        # inference_id + label
    mon.alerts()
"""

from __future__ import annotations

import builtins
import io
import json
import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client._client import Client, Resource, default_client
from shipyard.client._jobs import WaitTimeout
from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

RUNNING = ("Pending", "Running")


class Report:
    """A monitoring report: its JSON snapshot, and the server's HTML page for notebooks."""

    def __init__(self, doc: dict[str, Any], html: str | None = None) -> None:
        self.doc = doc
        self.html = html

    @property
    def alerts(self) -> builtins.list[dict[str, Any]]:
        return list(self.doc.get("alerts") or [])

    @property
    def drifted_columns(self) -> builtins.list[str]:
        return list((self.doc.get("drift") or {}).get("drifted_columns") or [])

    @property
    def violations(self) -> builtins.list[dict[str, Any]]:
        return list((self.doc.get("quality") or {}).get("violations") or [])

    @property
    def model_quality(self) -> dict[str, Any]:
        return dict(self.doc.get("model_quality") or {})

    def drift(self) -> pd.DataFrame:
        """One row per tested column: test, score, threshold, drifted."""
        import pandas as pd

        return pd.DataFrame((self.doc.get("drift") or {}).get("columns") or [])

    def _repr_html_(self) -> str:
        if self.html:
            return self.html
        return f"<pre>{escape(json.dumps(self.doc, indent=2)[:20_000])}</pre>"

    def __repr__(self) -> str:
        return (f"Report(alerts={len(self.alerts)}, drifted={self.drifted_columns}, "
                f"violations={len(self.violations)})")


class MonitoringExecution(dict[str, Any]):
    """One evaluation of a monitor: its JSON document (a dict, as the API gives it) that
    renders in Jupyter: status, rows, drift, the columns not tested and why, alerts, or why
    there was no data. ("Run" is a training job in an experiment; this is an execution.)"""

    def __init__(self, doc: dict[str, Any], monitor: Monitor | None = None) -> None:
        super().__init__(doc)
        self._monitor = monitor

    @property
    def status(self) -> str:
        return str(self.get("status"))

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.get("summary") or {})

    def report(self) -> Report:
        """This execution's report (drift per column, violations, alerts; HTML for
        notebooks)."""
        if self._monitor is None:
            raise InvalidRequest("This execution was not read through a Monitor; use "
                                 "Monitor(name).report(execution).")
        return self._monitor.report(int(self["execution"]))

    def __repr__(self) -> str:
        s = self.summary
        return (f"MonitoringExecution({self.get('monitor')!r}, "
                f"execution={self.get('execution')}, "
                f"status={self.status!r}, rows={s.get('rows')}, "
                f"alerts={len(s.get('alerts') or [])})")

    def _repr_html_(self) -> str:
        from shipyard.client import _render
        from shipyard.humanize import count, number

        s = self.summary
        facts: list[list[Any]] = [["trigger", self.get("trigger")],
                                  ["window", f"{self.get('window_start') or 'start'} … "
                                             f"{self.get('window_end')}"],
                                  ["rows", number(s.get("rows"))]]
        if s.get("note"):
            facts.append(["why no data", s["note"]])
        if self.get("error"):
            facts.append(["error", self["error"]])
        if s.get("drift_share") is not None:
            facts.append(["drift share", number(s["drift_share"])])
            facts.append(["drifted", ", ".join(s.get("drifted_columns") or []) or "none"])
        if s.get("skipped"):
            facts.append(["not tested", "; ".join(f"{c} ({why})"
                                                  for c, why in s["skipped"].items())])
        if s.get("unseen_categories"):
            facts.append(["categories never seen in training", ", ".join(
                f"{c} ({count(n, 'row')})" for c, n in s["unseen_categories"].items())])
        if s.get("model_quality"):
            facts.append(["model quality", ", ".join(
                f"{k} {number(v)}" for k, v in s["model_quality"].items())])
        alerts = [[a] for a in s.get("alerts") or []]
        return (f"<div class='shipyard-monitoring-execution'><b>Execution "
                f"{escape(str(self.get('execution')))} of "
                f"monitor {escape(str(self.get('monitor')))}</b> "
                f"{_render.status_badge(self.status)}"
                f"{_render.table_html(['', ''], [r for r in facts if r[1] not in (None, '')])}"
                + (f"<div><b>Alerts</b></div>{_render.table_html(['alert'], alerts)}"
                   if alerts else "") + "</div>")


class Monitor(Resource):
    """A monitor of an endpoint (see the module docstring)."""

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/monitors/{quote(self.name, safe='')}{suffix}"

    @classmethod
    def create(cls, name: str, *, endpoint: str, baseline: str, every: str | None = None,
               cron: str | None = None, webhook: str | None = None,
               retrain: dict[str, Any] | None = None, client: Client | None = None,
               **config: Any) -> Monitor:
        """Create a monitor; ``config`` takes drift, thresholds, quality_window, label_key…"""
        client = client or default_client()
        doc = client.post("/monitors", {
            "name": name, "endpoint": endpoint, "baseline": baseline, "every": every,
            "cron": cron, "webhook": webhook, "retrain": retrain, "config": config or None})
        return cls(name, client=client, _doc=doc)

    @classmethod
    def list(cls, endpoint: str | None = None, *, client: Client | None = None
             ) -> pd.DataFrame:
        import pandas as pd

        params = {"endpoint": endpoint} if endpoint else {}
        docs = (client or default_client()).get("/monitors", **params)
        return pd.DataFrame([{
            "name": d["name"], "endpoint": d["endpoint"],
            "baseline": f"{d['baseline']['dataset']}:{d['baseline']['version']}",
            "schedule": (d.get("schedule") or {}).get("every") or
            (d.get("schedule") or {}).get("cron"),
            "last_execution": (d.get("last_execution") or {}).get("status"),
            "alerts": len(((d.get("last_execution") or {}).get("summary") or {}).get("alerts")
                          or []),
        } for d in docs])

    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    def statistics(self) -> dict[str, Any]:
        return dict(self.client.get(self._path("/baseline/statistics")))

    def constraints(self) -> dict[str, Any]:
        return dict(self.client.get(self._path("/baseline/constraints")))

    def set_constraints(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace the constraints with an edited document (refused whole if it is wrong)."""
        return dict(self.client.request("PUT", self._path("/baseline/constraints"),
                                        json=doc).json())

    def run(self, *, wait: bool = True, timeout: float = 300) -> MonitoringExecution:
        """Run the monitor now over everything the endpoint answered until now; wait for
        its report.

        Returns the monitoring execution (a dict of its document that renders in Jupyter);
        a ``NoData`` execution's ``summary["note"]`` says why (capture off, or no new
        traffic since execution N).
        """
        return self._follow(self.client.post(self._path("/executions")), wait, timeout)

    def check(self, dataset: Any, *, wait: bool = True,
              timeout: float = 300) -> MonitoringExecution:
        """Check a dataset version (``"name[:version]"`` or a Dataset) against the baseline."""
        ref = dataset if isinstance(dataset, str) else f"{dataset.name}:{dataset.version}"
        return self._follow(self.client.post(self._path("/checks"), {"dataset": ref}),
                            wait, timeout)

    def _follow(self, doc: dict[str, Any], wait: bool, timeout: float) -> MonitoringExecution:
        if not wait:
            return MonitoringExecution(doc, self)
        deadline = time.monotonic() + timeout
        while doc["status"] in RUNNING:
            if time.monotonic() > deadline:
                raise WaitTimeout(f"Execution {doc['execution']} of monitor {self.name!r} is "
                                  f"still {doc['status']} after {timeout:g} s.")
            time.sleep(0.5)
            doc = self.client.get(self._path(f"/executions/{doc['execution']}"))
        return MonitoringExecution(doc, self)

    def execution(self, number: int) -> MonitoringExecution:
        """One monitoring execution, by its number in the monitor's history."""
        return MonitoringExecution(self.client.get(self._path(f"/executions/{int(number)}")),
                                   self)

    def executions(self) -> pd.DataFrame:
        """The monitor's history: one row per execution, with its drift share and alerts."""
        import pandas as pd

        rows = []
        for r in self.client.get(self._path("/executions")):
            s = r.get("summary") or {}
            rows.append({"execution": r["execution"], "status": r["status"],
                         "trigger": r["trigger"],
                         "window_start": r["window_start"], "window_end": r["window_end"],
                         "rows": s.get("rows"), "drift_share": s.get("drift_share"),
                         "drifted": ", ".join(s.get("drifted_columns") or []),
                         "not_tested": "; ".join(f"{c} ({why})" for c, why in
                                                 (s.get("skipped") or {}).items()),
                         "violations": s.get("violations"),
                         "alerts": len(s.get("alerts") or []), **{
                             f"quality.{k}": v for k, v in
                             (s.get("model_quality") or {}).items()}})
        return pd.DataFrame(rows)

    def report(self, execution: int | None = None) -> Report:
        """An execution's report (the latest with one by default), with its HTML for
        notebooks."""
        params = {"execution": execution} if execution else {}
        doc = self.client.get(self._path("/report"), **params)
        html = self.client.get_bytes(self._path("/report.html"), **params).decode("utf-8")
        return Report(doc, html)

    def alerts(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.client.get(self._path("/alerts")))

    def upload_ground_truth(self, labels: Any, *, format: str | None = None,
                            label_column: str | None = None) -> dict[str, Any]:
        """Upload true labels: a DataFrame or a CSV/JSON/Parquet file path, with the key
        column (``inference_id`` unless the monitor says otherwise) and the label:
        ``label_column``, else the monitor's, else ``label`` or the model's target."""
        if hasattr(labels, "to_parquet"):
            buf = io.BytesIO()
            labels.to_parquet(buf, index=False)
            files = [("file", ("labels.parquet", buf.getvalue(), "application/octet-stream"))]
            format = "parquet"
        elif isinstance(labels, str | Path):
            path = Path(labels)
            if not path.is_file():
                raise InvalidRequest(f"No file at {str(path)!r}; give a CSV, JSON or Parquet "
                                     "file of labels, or a DataFrame.")
            files = [("file", (path.name, path.read_bytes(), "application/octet-stream"))]
        else:
            raise InvalidRequest("Ground truth is a DataFrame or a file path; got "
                                 f"{type(labels).__name__}.")
        data = {k: v for k, v in (("format", format), ("label_column", label_column)) if v}
        return dict(self.client.request("POST", self._path("/ground-truth"), data=data,
                                        files=files).json())

    def delete(self) -> dict[str, Any]:
        """Delete the monitor (and its schedule); the answer is the API's Deleted document."""
        return dict(self.client.delete(self._path()) or {})

    def __repr__(self) -> str:
        d = self.doc
        sched = d.get("schedule") or {}
        return (f"Monitor({self.name!r}, endpoint={d.get('endpoint')!r}, baseline="
                f"'{d['baseline'].get('dataset')}:{d['baseline'].get('version')}', schedule="
                f"{sched.get('every') or sched.get('cron')!r}, columns="
                f"{len(d['baseline'].get('columns') or [])})")

    def _repr_html_(self) -> str:
        d = self.doc
        last = d.get("last_execution") or {}
        sched = d.get("schedule") or {}
        return (f"<b>Monitor {escape(self.name)}</b> of endpoint "
                f"<code>{escape(str(d.get('endpoint')))}</code>, baseline "
                f"<code>{escape(str(d['baseline'].get('dataset')))}:"
                f"{escape(str(d['baseline'].get('version')))}</code>; schedule "
                f"{escape(str(sched.get('every') or sched.get('cron') or 'none'))}; last execution "
                f"{escape(str(last.get('status', '-')))}")
