"""Bias and explanation reports from the client side: the specs of ``kind: bias`` and
``kind: explain``, and the SDK's handles on their results (docs/bias.md, docs/explain.md).

The CLI (``shipyard bias``, ``shipyard explain``) and the SDK (``sy.bias``,
``sy.explain``) send the same specs through :func:`bias_spec` and
:func:`explain_spec`, which also read the CLI's short forms:

- ``facet="carrier=UA"`` (the disadvantaged group is ``UA``; ``"age=>40"`` is a
  threshold, ``"race=a,b"`` several values, a bare ``"sex"`` each value in turn);
- ``positive="yes"`` (or a list of label values), ``positive=">15"`` (a threshold).

A report is a job: :class:`BiasReport` and :class:`ExplainReport` wrap it, fetch its
``output/report.json`` once it is Completed, save its offline HTML page and render a
summary in Jupyter.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.client._jobs import Job
from shipyard.client._training import add_limits, dataset_ref
from shipyard.errors import InvalidRequest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from shipyard.client._client import Client

REPORT_JSON = "output/report.json"
REPORT_HTML = "output/report.html"

Value = str | int | float | bool


def _threshold(text: str, what: str) -> float | None:
    """``">15"`` → 15.0; anything not starting with ``>`` → None."""
    text = text.strip()
    if not text.startswith(">"):
        return None
    try:
        value = float(text[1:].strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidRequest(f"{what} {text!r}: after '>' comes a number, e.g. '>15'.")
    return value


def parse_positive(positive: Value | Sequence[Value] | None,
                   label_threshold: float | None = None) -> dict[str, Any]:
    """The spec's ``positive`` / ``label_threshold`` from ``"yes"``, ``[1, 2]`` or ``">15"``."""
    if label_threshold is not None:
        if positive is not None:
            raise InvalidRequest("Give the positive label values or a label threshold, "
                                 "not both.")
        return {"label_threshold": float(label_threshold)}
    if positive is None or positive == "" or positive == []:
        raise InvalidRequest("Say which label is the positive outcome: positive='yes' (a "
                             "value of the label column) or positive='>15' (a threshold).")
    values = [positive] if isinstance(positive, str | int | float | bool) else list(positive)
    if len(values) == 1 and isinstance(values[0], str):
        cut = _threshold(values[0], "positive")
        if cut is not None:
            return {"label_threshold": cut}
    return {"positive": values}


def parse_facet(facet: str, facet_values: Sequence[Value] | None = None,
                facet_threshold: float | None = None) -> dict[str, Any]:
    """The spec's facet fields from ``"carrier=UA"``, ``"age=>40"``, ``"race=a,b"``, ``"sex"``."""
    if not facet or not isinstance(facet, str):
        raise InvalidRequest("Name the facet: the column whose groups are compared, e.g. "
                             "facet='sex' or facet='sex=female'.")
    column, eq, rest = facet.partition("=")
    column = column.strip()
    if not column:
        raise InvalidRequest(f"facet {facet!r}: the column name comes before '=', e.g. "
                             "'sex=female'.")
    out: dict[str, Any] = {"facet": column}
    if eq:
        if facet_values is not None or facet_threshold is not None:
            raise InvalidRequest(f"facet {facet!r} already names its group; drop "
                                 "facet_values/facet_threshold.")
        if not rest.strip():
            raise InvalidRequest(f"facet {facet!r}: a value comes after '=', e.g. "
                                 f"'{column}=female' or '{column}=>40'.")
        cut = _threshold(rest, "facet")
        if cut is not None:
            out["facet_threshold"] = cut
        else:
            out["facet_values"] = [v.strip() for v in rest.split(",") if v.strip()]
    elif facet_values is not None and facet_threshold is not None:
        raise InvalidRequest("The facet's group is facet_values or facet_threshold, not both.")
    elif facet_values is not None:
        out["facet_values"] = list(facet_values)
    elif facet_threshold is not None:
        out["facet_threshold"] = float(facet_threshold)
    return out


def bias_spec(dataset: Any, label: str, *, positive: Value | Sequence[Value] | None = None,
              label_threshold: float | None = None, facet: str,
              facet_values: Sequence[Value] | None = None,
              facet_threshold: float | None = None, group: str | None = None,
              model: Any = None, name: str | None = None, cpus: int | None = None,
              memory: str | int | None = None) -> dict[str, Any]:
    """The JSON spec of a bias job (``POST /jobs`` with ``kind: bias``).

    Args:
        dataset: the rows (a name, ``"name:version"`` or a :class:`Dataset`).
        label: the observed outcome column.
        positive: the label value(s) that are the favourable outcome, or ``">X"``.
        facet: the sensitive column, optionally with its disadvantaged group
            (``"sex=female"``, ``"age=>40"``); without one every value in turn.
        group: a column to condition on (CDDL, CDDPL).
        model: ``"group:version"`` (or a :class:`ModelVersion`): also the post-training
            metrics of its predictions on the rows.
    """
    if not label:
        raise InvalidRequest("A bias report needs the label column (label=...).")
    if dataset is None or dataset == "":
        raise InvalidRequest("A bias report needs a dataset.")
    spec: dict[str, Any] = {"kind": "bias", "inputs": {"dataset": dataset_ref(dataset)},
                            "label": label, **parse_positive(positive, label_threshold),
                            **parse_facet(facet, facet_values, facet_threshold)}
    if group:
        spec["group"] = group
    if model is not None:
        spec["model"] = model_ref(model)
    if name:
        spec["name"] = name
    return add_limits(spec, cpus=cpus, memory=memory, max_runtime=None)


def explain_spec(model: Any, dataset: Any, *, rows: int = 1000, local_rows: int = 5,
                 seed: int = 0, name: str | None = None, cpus: int | None = None,
                 memory: str | int | None = None) -> dict[str, Any]:
    """The JSON spec of an explain job (``POST /jobs`` with ``kind: explain``)."""
    if model is None or model == "":
        raise InvalidRequest("Name the model to explain, as GROUP:VERSION (e.g. churn:3).")
    if dataset is None or dataset == "":
        raise InvalidRequest("An explanation needs the rows to explain: a dataset.")
    spec: dict[str, Any] = {"kind": "explain", "model": model_ref(model),
                            "inputs": {"dataset": dataset_ref(dataset)}, "rows": int(rows),
                            "local_rows": int(local_rows), "seed": int(seed)}
    if name:
        spec["name"] = name
    return add_limits(spec, cpus=cpus, memory=memory, max_runtime=None)


def model_ref(model: Any) -> str:
    """``"churn:3"`` from a string or a :class:`ModelVersion`."""
    group, version = getattr(model, "group", None), getattr(model, "version", None)
    if group is not None and version is not None:
        return f"{group}:{version}"
    return str(model)


class _ReportJob:
    """A bias or explain job and, once it is Completed, its report."""

    kind = ""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._report: dict[str, Any] | None = None

    @classmethod
    def get(cls, id: str, *, client: Client | None = None) -> Any:
        job = Job(id, client=client)
        if job.kind != cls.kind:
            raise InvalidRequest(f"Job {id} is a {job.kind} job, not a {cls.kind} job.")
        return cls(job)

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def status(self) -> str:
        return self.job.status

    def wait(self, timeout: float | None = None, progress: bool = True,
             raise_on_failure: bool = True) -> Any:
        """Block until the job ends; return self."""
        self.job.wait(timeout=timeout, progress=progress, raise_on_failure=raise_on_failure)
        return self

    @property
    def report(self) -> dict[str, Any]:
        """``output/report.json`` of the Completed job (fetched once)."""
        if self._report is None:
            if self.job.refresh().status != "Completed":
                raise InvalidRequest(
                    f"Job {self.id} is {self.job.status}; its report exists once it is "
                    "Completed (wait() for it).")
            raw = self.job.client.get_bytes(f"/jobs/{self.id}/artifacts/{REPORT_JSON}")
            self._report = json.loads(raw)
        return self._report

    def save_html(self, path: str | Path) -> Path:
        """Save the offline HTML report (plots included) to ``path``."""
        self.report  # noqa: B018 - refuses clearly before the job is Completed
        return self.job.download(REPORT_HTML, path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} job {self.id} {self.status}>"


class BiasReport(_ReportJob):
    """A bias job: ``sy.bias("churn", label="churn", positive="Yes",
    facet="senior_citizen=1")``; :meth:`metrics` is one row per facet group and metric."""

    kind = "bias"

    def metrics(self) -> pd.DataFrame:
        """Every metric of every facet group: stage, value, and what it means."""
        import pandas as pd

        return pd.DataFrame(bias_rows(self.report),
                            columns=["facet", "stage", "metric", "value", "title", "reason"])

    def _repr_html_(self) -> str:
        if self.job.refresh().status != "Completed":
            return f"<p>{html.escape(repr(self))}</p>"
        return bias_html(self.report)


class ExplainReport(_ReportJob):
    """An explain job: ``sy.explain("churn:3", "churn")``; :meth:`importance` ranks the
    raw input columns by mean |SHAP|."""

    kind = "explain"

    def importance(self) -> pd.DataFrame:
        """Mean |SHAP value| of each raw input column, most important first."""
        import pandas as pd

        return pd.DataFrame(importance_rows(self.report),
                            columns=["column", "importance"]).set_index("column")

    def local(self) -> list[dict[str, Any]]:
        """The explained rows shown in the report: values, prediction, SHAP per column."""
        return list(self.report.get("local") or [])

    def _repr_html_(self) -> str:
        if self.job.refresh().status != "Completed":
            return f"<p>{html.escape(repr(self))}</p>"
        return importance_html(self.report)


def bias(dataset: Any, label: str, *, facet: str, positive: Any = None,
         wait: bool = True, client: Client | None = None, **options: Any) -> BiasReport:
    """Bias metrics of ``dataset``'s ``label`` across ``facet`` (and of ``model``'s
    predictions when given); see :func:`bias_spec` for the arguments."""
    from shipyard.client._client import default_client

    c = client or default_client()
    doc = c.post("/jobs", bias_spec(dataset, label, positive=positive, facet=facet, **options))
    report = BiasReport(Job(doc["id"], client=c, _doc=doc))
    return report.wait() if wait else report


def explain(model: Any, dataset: Any, *, wait: bool = True, client: Client | None = None,
            **options: Any) -> ExplainReport:
    """SHAP explanations of ``model`` (``"group:version"``) on ``dataset``'s rows; see
    :func:`explain_spec`."""
    from shipyard.client._client import default_client

    c = client or default_client()
    doc = c.post("/jobs", explain_spec(model, dataset, **options))
    report = ExplainReport(Job(doc["id"], client=c, _doc=doc))
    return report.wait() if wait else report


# -- reading reports (shared with the CLI) ---------------------------------------------------
def bias_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per facet group × metric of a bias report."""
    titles = {code: (m or {}).get("title") or "" for code, m in
              (report.get("metrics") or {}).items()}
    rows = []
    for f in report.get("facets") or []:
        for stage in ("pre", "post"):
            for code, m in (f.get(stage) or {}).items():
                m = m if isinstance(m, dict) else {"value": m}
                rows.append({"facet": f.get("facet"), "stage": stage, "metric": code,
                             "value": m.get("value"), "reason": m.get("reason"),
                             "title": titles.get(code, "")})
    return rows


def importance_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"column": r.get("column"), "importance": r.get("mean_abs_shap")}
            for r in report.get("global_importance") or []]


def _fmt(value: Any) -> str:
    return "–" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value))


def bias_html(report: dict[str, Any]) -> str:
    rows = bias_rows(report)
    body = "".join(
        f"<tr><td>{html.escape(str(r['facet']))}</td><td>{r['stage']}</td>"
        f"<td><b>{html.escape(str(r['metric']))}</b></td><td>{_fmt(r['value'])}</td>"
        f"<td>{html.escape(str(r['title']))}</td></tr>" for r in rows)
    return ("<table><thead><tr><th>facet</th><th>stage</th><th>metric</th><th>value</th>"
            f"<th></th></tr></thead><tbody>{body}</tbody></table>")


def importance_html(report: dict[str, Any]) -> str:
    rows = importance_rows(report)[:20]
    top = max((abs(float(r["importance"] or 0)) for r in rows), default=0.0) or 1.0
    body = "".join(
        f"<tr><td>{html.escape(str(r['column']))}</td><td>{_fmt(r['importance'])}</td>"
        f"<td><div style='background:#4c78a8;height:10px;width:"
        f"{200 * abs(float(r['importance'] or 0)) / top:.0f}px'></div></td></tr>"
        for r in rows)
    what = html.escape(str(report.get("method", "")))
    return (f"<p>Mean |SHAP value| per input column ({what})</p><table><tbody>{body}"
            "</tbody></table>")
