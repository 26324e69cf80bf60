"""``sy.Experiment``: a set of training runs to compare, with the problem they serve."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _plots, _render
from shipyard.client._client import Client, Resource, default_client
from shipyard.client._progress import in_jupyter
from shipyard.client._training import criterion_text, lower_is_better, metric_key

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

RUN_COLUMNS = ["job_id", "status", "algorithm"]


def runs_frame(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: job_id, status, algorithm, ``hp.<name>``…, metrics…, tags, notes, passed.

    Per-iteration curves (``curve.<split>.<loss>``) are series, not a run's result, so
    their last points are left out.
    """
    import pandas as pd

    hps = list(dict.fromkeys(k for r in runs for k in (r.get("hyperparameters") or {})))
    metrics = sorted({k for r in runs for k in (r.get("metrics") or {})
                      if not k.startswith("curve.")})
    rows = []
    for r in runs:
        row: dict[str, Any] = {c: r.get(c) for c in RUN_COLUMNS}
        row.update({f"hp.{k}": (r.get("hyperparameters") or {}).get(k) for k in hps})
        row.update({k: (r.get("metrics") or {}).get(k) for k in metrics})
        row["tags"] = dict(r.get("tags") or {})
        row["notes"] = r.get("notes")
        row["passed"] = (r.get("criteria") or {}).get("passed")
        rows.append(row)
    columns = [*RUN_COLUMNS, *(f"hp.{k}" for k in hps), *metrics, "tags", "notes", "passed"]
    return pd.DataFrame(rows, columns=columns)


class Experiment(Resource):
    """An experiment on the server: ``sy.Experiment("churn")`` loads it.

    Training jobs join the experiment named in their spec (by default, their train
    dataset's name); :meth:`runs` and :meth:`compare` put them side by side and judge
    each against the experiment's success criteria.
    """

    def __init__(self, name: str, *, client: Client | None = None,
                 _doc: dict[str, Any] | None = None) -> None:
        self.name = name
        self._attach(client, _doc)

    def _path(self, suffix: str = "") -> str:
        return f"/experiments/{quote(self.name, safe='')}{suffix}"

    # -- constructors -----------------------------------------------------------------------
    @classmethod
    def get(cls, name: str, *, client: Client | None = None) -> Experiment:
        return cls(name, client=client)

    @classmethod
    def create(cls, name: str, *, problem_statement: str | None = None,
               success_criteria: Sequence[str | Mapping[str, Any]] | None = None,
               description: str | None = None, client: Client | None = None) -> Experiment:
        """Create the experiment, or update the fields given of an existing one.

        Args:
            success_criteria: e.g. ``["roc_auc>=0.80@test", "mape<=5%"]`` (the split
                defaults to test), or dicts with metric, op, threshold and split.
        """
        c = client or default_client()
        body = {"name": name, "description": description,
                "problem_statement": problem_statement,
                "success_criteria": None if success_criteria is None else
                [dict(s) if isinstance(s, Mapping) else s for s in success_criteria]}
        c.post("/experiments", body)
        return cls(name, client=c)

    @classmethod
    def list(cls, *, client: Client | None = None) -> pd.DataFrame:
        """Every experiment, with its number of runs."""
        import pandas as pd

        docs = (client or default_client()).get("/experiments")
        columns = ["name", "runs", "problem_statement", "success_criteria", "description",
                   "created_at", "updated_at"]
        rows = [{**{c: d.get(c) for c in columns},
                 "success_criteria": [criterion_text(c) for c in d.get("success_criteria") or []]}
                for d in docs]
        return pd.DataFrame(rows, columns=columns)

    def update(self, *, problem_statement: str | None = None,
               success_criteria: Sequence[str | Mapping[str, Any]] | None = None,
               description: str | None = None) -> Experiment:
        """Change the fields given (None leaves a field as it is); return self."""
        body = {"description": description, "problem_statement": problem_statement,
                "success_criteria": None if success_criteria is None else
                [dict(s) if isinstance(s, Mapping) else s for s in success_criteria]}
        self.client.patch(self._path(), body)
        return self.refresh()

    # -- state ------------------------------------------------------------------------------
    @property
    def doc(self) -> dict[str, Any]:
        return self._doc

    @property
    def description(self) -> str | None:
        return self._doc.get("description")

    @property
    def problem_statement(self) -> str | None:
        return self._doc.get("problem_statement")

    @property
    def success_criteria(self) -> builtins.list[str]:
        """The criteria as they are written, e.g. ``["roc_auc>=0.8@test"]``."""
        return [criterion_text(c) for c in self._doc.get("success_criteria") or []]

    def runs(self, metric: str | None = None, descending: bool | None = None) -> pd.DataFrame:
        """Every run as a row (see :func:`runs_frame`); ``metric`` sorts them best first."""
        return runs_frame(self._runs(metric, descending))

    def _runs(self, metric: str | None = None,
              descending: bool | None = None) -> builtins.list[dict[str, Any]]:
        params = {"metric": metric}
        if descending is not None:
            params["descending"] = str(descending).lower()
        return self.client.get(self._path("/runs"), **params)

    def ranked(self, metric: str, split: str = "test") -> builtins.list[dict[str, Any]]:
        """The runs that measured ``metric`` on ``split``, best first (lower is better for
        errors: rmse, mae, mape, log_loss)."""
        key = metric_key(metric, split)
        runs = [r for r in self._runs(key) if key in (r.get("metrics") or {})]
        # Sort here too: the order must not depend on how a server version breaks ties.
        return sorted(runs, key=lambda r: r["metrics"][key], reverse=not lower_is_better(key))

    def compare(self, metric: str, split: str = "test", *, plot: bool | None = None
                ) -> pd.DataFrame:
        """The runs side by side, best first by ``metric`` on ``split``; draws a bar chart.

        Args:
            metric: e.g. ``"roc_auc"`` (measured on ``split``) or ``"validation.rmse"``.
            plot: show the bar chart (None: only in Jupyter, where it is displayed
                inline). :meth:`compare_plot` returns the same chart as PNG bytes.
        """
        key = metric_key(metric, split)
        ranked = self.ranked(metric, split)
        frame = runs_frame(ranked)
        if key not in frame.columns:
            frame[key] = None
        first = ["job_id", "algorithm", key, "passed"]
        frame = frame[first + [c for c in frame.columns if c not in first]]
        if ranked and (plot or (plot is None and in_jupyter())):
            _display_png(_plots.compare_png(self.name, key, ranked, self.criterion_for(key)))
        return frame

    def compare_plot(self, metric: str, split: str = "test") -> bytes:
        """A bar chart of ``metric`` per run, best first, as PNG bytes."""
        key = metric_key(metric, split)
        return _plots.compare_png(self.name, key, self.ranked(metric, split),
                                  self.criterion_for(key))

    def criterion_for(self, key: str) -> dict[str, Any] | None:
        """The success criterion on the flat metric ``key`` (``test.roc_auc``), if any."""
        for c in self._doc.get("success_criteria") or []:
            if f"{c.get('split', 'test')}.{c.get('metric')}" == key:
                return dict(c)
        return None

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Experiment {self.name}>"

    def _repr_html_(self) -> str:
        runs = self._doc.get("runs")
        if not isinstance(runs, builtins.list):
            runs = self._runs()
        return _render.experiment_html(self._doc, self.success_criteria, runs)


def _display_png(png: bytes) -> None:
    """Show a PNG in Jupyter (does nothing where IPython is not installed)."""
    try:
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - in_jupyter() was True, so IPython is there
        return
    display(Image(data=png, format="png"))
