"""A tuning job's report: plots of its study and one offline HTML page (docs/tuning.md).

Presentation only, from the tuning job's document (``GET /jobs/{id}``: the pinned
``spec.space`` and ``outputs.study``), so the CLI (``shipyard tune report ID --html
FILE``) and the SDK (``job.tuning_report()``, rendered in Jupyter) draw the same thing
with nothing more from the server:

* **objective over trials**: each trial's validation objective by trial number (pruned
  and failed trials marked at the bottom), and the best so far;
* **hyperparameter importances**: Optuna's fANOVA over the completed trials, per
  algorithm (a study over several algorithms also shows how each one scored);
* **parallel coordinates**: each completed trial as a line across its searched
  hyperparameters (scaled to their search range, log where searched on a log scale),
  coloured by its objective.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.tuning._space import ALGORITHM, Dimension, SearchSpace


@dataclass
class TuningReport:
    """A tuning job's study, ready to draw: its trials, space, objective and best."""

    job_id: str
    status: str
    metric: str
    direction: str
    space: SearchSpace
    trials: list[dict[str, Any]]
    best: dict[str, Any] | None
    stopped_by: str | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_job(cls, doc: Mapping[str, Any]) -> TuningReport:
        study = (doc.get("outputs") or {}).get("study") or {}
        objective = study.get("objective") or {}
        return cls(job_id=str(doc["id"]), status=str(doc.get("status")),
                   metric=str(objective.get("metric") or "objective"),
                   direction=str(objective.get("direction") or "maximize"),
                   space=SearchSpace.from_list((doc.get("spec") or {}).get("space") or []),
                   trials=list(study.get("trials") or []), best=study.get("best"),
                   stopped_by=study.get("stopped_by"))

    @property
    def completed(self) -> list[dict[str, Any]]:
        return [t for t in self.trials if t.get("state") == "complete"
                and t.get("objective") is not None]

    def importances(self) -> dict[str, dict[str, float]]:
        """fANOVA importances of the searched hyperparameters, per algorithm (at least 4
        completed trials of it); empty where there are too few."""
        import optuna

        from shipyard.tuning._study import distribution

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        out: dict[str, dict[str, float]] = {}
        by_algorithm: dict[str, list[dict[str, Any]]] = {}
        for t in self.completed:
            by_algorithm.setdefault(str(t.get("algorithm")), []).append(t)
        several = any(d.name == ALGORITHM for d in self.space.dimensions)
        for algorithm, trials in by_algorithm.items():
            prefix = f"{algorithm}." if several else ""
            dims = {d.name.removeprefix(prefix): d for d in self.space.dimensions
                    if d.name != ALGORITHM and d.name.startswith(prefix)}
            if len(trials) < 4 or not dims:
                continue
            study = optuna.create_study(
                direction="minimize" if self.direction == "minimize" else "maximize")
            for t in trials:
                params = {k: v for k, v in t["hyperparameters"].items()
                          if k in dims and _fits(dims[k], v)}
                if set(params) != set(dims):
                    continue
                study.add_trial(optuna.trial.create_trial(
                    params=params, distributions={k: distribution(dims[k]) for k in params},
                    value=float(t["objective"])))
            if len(study.trials) < 4:
                continue
            try:
                found = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
            except (RuntimeError, ValueError):  # e.g. every trial scored the same
                continue
            out[algorithm] = {k: float(v) for k, v in found.items()}
        return out

    def plots(self) -> dict[str, str]:
        """Base64 PNGs by title.

        Raises:
            ImportError: matplotlib is not installed (``pip install 'shipyard[ml]'``).
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out: dict[str, str] = {}
        if self.trials:
            out["Objective over trials"] = _png(self._objective_plot(plt))
        importances = self.importances()
        if importances:
            out["Hyperparameter importances (fANOVA)"] = _png(
                self._importance_plot(plt, importances))
        if len(self.completed) >= 2:
            fig = self._parallel_plot(plt)
            if fig is not None:
                out["Parallel coordinates"] = _png(fig)
        return out

    def _objective_plot(self, plt: Any) -> Any:
        fig, ax = plt.subplots(figsize=(7, 3))
        done = self.completed
        algorithms = sorted({str(t.get("algorithm")) for t in done}) or ["trials"]
        for algorithm in algorithms:
            mine = [t for t in done if str(t.get("algorithm")) == algorithm
                    or algorithm == "trials"]
            ax.scatter([t["number"] for t in mine], [t["objective"] for t in mine], s=22,
                       label=algorithm if len(algorithms) > 1 else "trial", zorder=3)
        if done:
            pick = min if self.direction == "minimize" else max
            best, xs, ys = None, [], []
            for t in sorted(done, key=lambda t: t["number"]):
                best = t["objective"] if best is None else pick(best, t["objective"])
                xs.append(t["number"])
                ys.append(best)
            ax.step(xs, ys, where="post", color="black", lw=1.2, label="best so far")
            low = min(t["objective"] for t in done)
            others = [t for t in self.trials if t not in done]
            for state, marker in (("pruned", "v"), (None, "x")):
                shown = [t for t in others if (t.get("state") or "").startswith("pruned")
                         == (state == "pruned")]
                if shown:
                    ax.scatter([t["number"] for t in shown], [low] * len(shown), marker=marker,
                               color="grey", label=state or "failed / stopped", zorder=2)
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric)
        ax.legend(fontsize=7, loc="best")
        return fig

    def _importance_plot(self, plt: Any, importances: Mapping[str, Mapping[str, float]]
                         ) -> Any:
        rows = [(f"{a}: {n}" if len(importances) > 1 else n, v)
                for a, found in importances.items() for n, v in found.items()]
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.3 * len(rows)))
        ax.barh([r[0] for r in rows], [r[1] for r in rows], color="tab:blue")
        ax.invert_yaxis()
        ax.set_xlabel("share of the objective's variance")
        return fig

    def _parallel_plot(self, plt: Any) -> Any:
        done = self.completed
        several = any(d.name == ALGORITHM for d in self.space.dimensions)
        # One algorithm's axes: the most tried one's, in a study over several.
        algorithm = max({str(t.get("algorithm")) for t in done},
                        key=lambda a: sum(1 for t in done if str(t.get("algorithm")) == a))
        prefix = f"{algorithm}." if several else ""
        dims = [d for d in self.space.dimensions
                if d.name != ALGORITHM and d.name.startswith(prefix)]
        mine = [t for t in done if not several or str(t.get("algorithm")) == algorithm]
        if not dims or len(mine) < 2:
            return None
        names = [d.name.removeprefix(prefix) for d in dims]
        values = [t["objective"] for t in mine]
        low, high = min(values), max(values)
        cmap = plt.get_cmap("viridis" if self.direction == "maximize" else "viridis_r")
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(dims)), 3.2))
        for t in sorted(mine, key=lambda t: t["objective"] * (1 if self.direction ==
                                                              "maximize" else -1)):
            ys = [_scaled(d, t["hyperparameters"].get(n)) for d, n in zip(dims, names,
                                                                          strict=True)]
            shade = (t["objective"] - low) / (high - low) if high > low else 1.0
            ax.plot(range(len(dims)), ys, color=cmap(shade), alpha=0.8, lw=1.4)
        ax.set_xticks(range(len(dims)), names, rotation=30, ha="right", fontsize=8)
        ax.set_yticks([0, 1], ["low", "high"])
        ax.set_title(f"{algorithm}: brighter is a better {self.metric}" if several else
                     f"brighter is a better {self.metric}", fontsize=9)
        return fig

    def render_html(self, *, standalone: bool = True) -> str:
        """The report as HTML: the study's figures, its best trial, its trials, and plots."""
        e = html.escape
        parts = [f"<h2>Tuning job {e(self.job_id)} ({e(self.status)})</h2>"]
        facts = [("Objective", f"{self.metric} ({self.direction})"),
                 ("Trials", f"{len(self.trials)} ({len(self.completed)} complete"
                            + (f", {sum(1 for t in self.trials if t.get('state') == 'pruned')}"
                               " pruned" if any(t.get("state") == "pruned"
                                                for t in self.trials) else "") + ")")]
        if self.stopped_by:
            facts.append(("Stopped by", self.stopped_by))
        if self.best:
            facts.append(("Best", f"trial {self.best['number']} (job "
                                  f"{self.best['trial_job_id']}): {self.best['objective']:.5g}"))
            if self.best.get("test"):
                facts.append(("Best on test", ", ".join(
                    f"{k} {v:.4g}" for k, v in sorted(self.best["test"].items())
                    if k != "n_samples")))
        parts.append("<table>" + "".join(f"<tr><th style='text-align:left'>{e(k)}</th>"
                                         f"<td>{e(v)}</td></tr>" for k, v in facts)
                     + "</table>")
        try:
            images = self.plots()
        except ImportError:
            images = {}
            parts.append("<p>(Plots need matplotlib: pip install 'shipyard[ml]'.)</p>")
        for title, png in images.items():
            parts.append(f"<h3>{e(title)}</h3><img alt='{e(title)}' "
                         f"src='data:image/png;base64,{png}'>")
        parts.append("<h3>Trials</h3>" + _trial_table(self.trials, self.best))
        body = "\n".join(parts)
        if not standalone:
            return f"<div>{body}</div>"
        return ("<!doctype html><html><head><meta charset='utf-8'>"
                f"<title>Tuning job {e(self.job_id)}</title></head>"
                f"<body style='font-family:sans-serif;max-width:70em'>{body}</body></html>")

    def _repr_html_(self) -> str:
        return self.render_html(standalone=False)


def _trial_table(trials: Sequence[Mapping[str, Any]], best: Mapping[str, Any] | None) -> str:
    e = html.escape
    names = list(dict.fromkeys(k for t in trials for k in t.get("hyperparameters") or {}))
    head = ["#", "algorithm", "state", "objective", "seconds", *names]
    rows = []
    for t in trials:
        mark = " *" if best and t.get("job_id") == best.get("trial_job_id") else ""
        cells = [f"{t['number']}{mark}", t.get("algorithm") or "", t.get("state") or "",
                 _fmt(t.get("objective")), _fmt(t.get("duration_seconds")),
                 *(_fmt((t.get("hyperparameters") or {}).get(n)) for n in names)]
        rows.append("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in cells) + "</tr>")
    return ("<table border='1' style='border-collapse:collapse;font-size:90%'><tr>"
            + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>" + "".join(rows)
            + "</table><p>* best</p>")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fits(dim: Dimension, value: Any) -> bool:
    if dim.choices is not None:
        return value in dim.choices
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        float(dim.low or 0) <= value <= float(dim.high or 0)


def _scaled(dim: Dimension, value: Any) -> float:
    """``value`` on 0..1 across the dimension (its position among the choices)."""
    if value is None:
        return float("nan")
    if dim.choices is not None:
        choices = list(dim.choices)
        return choices.index(value) / max(1, len(choices) - 1) if value in choices else 0.5
    low, high = float(dim.low or 0), float(dim.high or 0)
    if high <= low:
        return 0.5
    if dim.log and low > 0 and value > 0:
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    return (float(value) - low) / (high - low)


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")
