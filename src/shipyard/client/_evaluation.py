"""A job's evaluation, as the job saved it: metrics per split and its plots; and the spec
of an ``evaluate`` job, which scores a model on a dataset.

Built from ``evaluation/evaluation.json`` (a training job's bundle, or an evaluate job's
``output/``) and the PNGs beside it, downloaded from the job's artifacts; nothing is
recomputed or re-rendered here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _render
from shipyard.client._training import dataset_ref
from shipyard.errors import InvalidRequest, NotFound
from shipyard.humanize import count

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.client._client import Client

EVALUATION_FILE = "evaluation/evaluation.json"


def evaluate_spec(*, model: Any = None, job: Any = None, test: Any,
                  target: str | None = None, name: str | None = None) -> dict[str, Any]:
    """The JSON spec of an evaluate job (``POST /jobs`` with ``kind: evaluate``).

    Args:
        model: a registered version, ``"group:version"`` (or a :class:`ModelVersion`).
        job: or a Completed job whose model is evaluated (its id or a :class:`Job`).
        test: the rows to score (a name, ``"name:version"`` or a :class:`Dataset`).
        target: the column of the true values (default: the model's own target).
    """
    from shipyard.client._jobs import model_ref

    if (model is None) == (job is None):
        raise InvalidRequest("Name the model to evaluate: a registered version "
                             "(model='GROUP:VERSION'; --model on the CLI) or a Completed "
                             "job's model (job=JOB_ID; --job on the CLI), one of the two.")
    if test is None or test == "":
        raise InvalidRequest("Name the dataset to evaluate the model on (test=DATASET; "
                             "--input test=DATASET on the CLI).")
    spec: dict[str, Any] = {"kind": "evaluate", "inputs": {"test": dataset_ref(test)}}
    if model is not None:
        spec["model"] = model_ref(model)
    else:
        spec["job"] = str(getattr(job, "id", job))
    if target:
        spec["target"] = target
    if name:
        spec["name"] = name
    return spec


@dataclass(frozen=True)
class Evaluation:
    """Metrics per split (``.metrics``), plots by file name (``.plots``: PNG bytes).

    In Jupyter it shows a table of the headline metrics of each split (and of the
    trivial baseline beside it) and every plot.
    """

    job_id: str
    report: dict[str, Any]
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def problem_type(self) -> str | None:
        return self.report.get("problem_type")

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        """``{"validation": {...}, "test": {...}}`` as evaluation.json holds them."""
        return dict(self.report.get("metrics") or {})

    @property
    def baseline(self) -> dict[str, dict[str, Any]]:
        return dict(self.report.get("baseline") or {})

    @property
    def warnings(self) -> list[str]:
        """What the job said a reader must know: a model at chance level, a large bundle."""
        return [str(w) for w in self.report.get("warnings") or []]

    def headline(self) -> dict[str, dict[str, Any]]:
        """The headline numbers by row (each split, then each split's baseline)."""
        from shipyard.errors import ShipyardError
        from shipyard.evaluation import EvaluationReport

        try:
            return EvaluationReport.from_dict(self.report).headline()
        except ShipyardError:
            # A problem type this version does not know: show every number it has.
            rows = {s: _scalars(m) for s, m in self.metrics.items() if m}
            rows.update({f"{s} (baseline)": _scalars(m) for s, m in self.baseline.items() if m})
            return rows

    def save_plots(self, folder: str | Path) -> list[Path]:
        """Write every plot into ``folder``; return the paths written."""
        target = Path(folder).expanduser()
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for name, png in self.plots.items():
            path = target / name
            path.write_bytes(png)
            written.append(path)
        return written

    def __repr__(self) -> str:
        splits = ", ".join(self.metrics) or "no splits"
        warned = f"; {count(len(self.warnings), 'warning')}" if self.warnings else ""
        return (f"<Evaluation of job {self.job_id} ({self.problem_type}): {splits}; "
                f"{len(self.plots)} plots{warned}>")

    def _repr_html_(self) -> str:
        rows = self.headline()
        keys = list(dict.fromkeys(k for values in rows.values() for k in values))
        table = _render.table_html(
            ["split", *keys], [[row, *(_render.number(values.get(k)) for k in keys)]
                               for row, values in rows.items()])
        images = "".join(
            f'<figure style="display:inline-block;margin:4px;max-width:48%">'
            f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
            f'alt="{escape(name)}" style="max-width:100%">'
            f'<figcaption style="font-size:11px;color:#6b7280">{escape(name)}</figcaption>'
            "</figure>"
            for name, png in self.plots.items()
        )
        warned = "".join(f"<p style='color:#b91c1c'><b>Warning:</b> {escape(w)}</p>"
                         for w in self.warnings)
        return (f"<div class='shipyard-evaluation'><b>Evaluation of job "
                f"{escape(self.job_id)}</b> <span style='color:#6b7280'>"
                f"{escape(str(self.problem_type))}</span>{warned}{table}<div>{images}</div>"
                "</div>")


def _scalars(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def load_evaluation(client: Client, job_id: str, files: list[dict[str, Any]]) -> Evaluation:
    """Download a job's evaluation.json and the PNGs in its folder."""
    paths = [str(f.get("path")) for f in files]
    report_path = next((p for p in paths if p == f"model/{EVALUATION_FILE}"), None) or next(
        (p for p in paths if p.endswith(EVALUATION_FILE)), None)
    if report_path is None:
        raise NotFound(
            f"Job {job_id} has no evaluation ({EVALUATION_FILE} among its artifacts); only a "
            "Completed training or evaluate job saves one."
        )
    base = f"/jobs/{quote(job_id, safe='')}/artifacts/"
    report = json.loads(client.get_bytes(base + quote(report_path)))
    folder = report_path.rsplit("/", 1)[0] + "/"
    plots = {p[len(folder):]: client.get_bytes(base + quote(p))
             for p in sorted(paths)
             if p.startswith(folder) and p.endswith(".png") and "/" not in p[len(folder):]}
    return Evaluation(job_id=job_id, report=report, plots=plots)
