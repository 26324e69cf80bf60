"""``shipyard automl``: a table and a target in, a ranked, deployable model out;
``automl leaderboard ID`` ranks its candidates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from shipyard.automl._analysis import describe_leaks, describe_missing_target
from shipyard.cli._common import (
    WAIT_DEFAULT,
    JsonOpt,
    client,
    err,
    fail,
    out,
    output_mode,
    parse_pairs,
    print_json,
    print_table,
    quiet_option,
    say,
    wait_option,
)
from shipyard.client import Job
from shipyard.client._automl import (
    MODES,
    automl_spec,
    board,
    leaderboard_rows,
    write_notebooks,
)
from shipyard.client._jobs import failure_sentence
from shipyard.client._training import TRAINING_CHANNELS, parse_split
from shipyard.errors import InvalidRequest

app = typer.Typer(help="AutoML: candidate pipelines within a time budget, ranked; the best "
                       "(or an ensemble of them) scored on test (docs/automl.md).",
                  invoke_without_command=True)


@app.callback()
def automl(
    ctx: typer.Context,
    input: Annotated[list[str] | None, typer.Option(
        "--input", "-i", metavar="CHANNEL=DATASET",
        help="train=DATASET (and optionally test=, validation=); repeatable.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", metavar="COLUMN", help="The column to predict.")] = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", metavar="METRIC",
        help="The validation metric to optimise: roc_auc, accuracy, log_loss, rmse, mae, … "
             "[default: roc_auc, accuracy or rmse by problem type].")] = None,
    problem_type: Annotated[str | None, typer.Option(
        "--problem-type", metavar="TYPE",
        help="binary, multiclass or regression [default: inferred from the target].")
    ] = None,
    time_budget: Annotated[float, typer.Option(
        "--time-budget", metavar="SECONDS",
        help="Seconds from submit to the final model, everything included.")] = 300.0,
    mode: Annotated[str, typer.Option(
        "--mode", metavar="MODE",
        help="ensembling (a weighted ensemble of candidates), hpo (the best single tuned "
             "candidate) or auto (ensembling up to 200,000 rows).")] = "auto",
    max_candidates: Annotated[int, typer.Option(
        "--max-candidates", metavar="N", min=1, help="Candidates at most.")] = 200,
    parallel: Annotated[int | None, typer.Option(
        "--parallel", metavar="P", min=1,
        help="Candidates training at a time [default: the CPUs / --cpus].")] = None,
    algorithm: Annotated[str | None, typer.Option(
        "--algorithms", metavar="NAME[,NAME…]",
        help="The built-in algorithms to use [default: lightgbm, xgboost, catboost, "
             "random-forest, linear].")] = None,
    split: Annotated[str | None, typer.Option(
        "--split", metavar="TRAIN,VAL,TEST", help="Split fractions [default: 0.7,0.2,0.1].")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="The sampler's seed.")] = 0,
    cv_folds: Annotated[int | None, typer.Option(
        "--cv-folds", metavar="K",
        help="Cross-validate each candidate in K folds and select on out-of-fold "
             "predictions (tables up to 20,000 rows; K fits per candidate).")] = None,
    sample_rows: Annotated[int | None, typer.Option(
        "--sample-rows", metavar="N",
        help="Candidates train on at most N training rows, sampled; the final model is "
             "refit on all [default: every row].")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune/--no-prune",
        help="Stop the search's boosting candidates whose validation loss lags at a rung "
             "(successive halving on rounds).")] = True,
    drop: Annotated[list[str] | None, typer.Option(
        "--drop", metavar="COLUMN",
        help="Columns every candidate leaves out: repeatable, or comma-separated.")] = None,
    keep: Annotated[list[str] | None, typer.Option(
        "--keep", metavar="COLUMN",
        help="Suspected leaks of the target to keep (they are known at prediction time); "
             "every candidate leaves the others out.")] = None,
    experiment: Annotated[str | None, typer.Option(
        "--experiment", metavar="NAME",
        help="The experiment the candidates are runs of [default: the train dataset's name].")
    ] = None,
    cpus: Annotated[int | None, typer.Option(
        "--cpus", metavar="N", help="CPUs for each candidate.")] = None,
    memory: Annotated[str | None, typer.Option(
        "--memory", metavar="SIZE", help="Memory limit of each candidate, e.g. 2G.")] = None,
    wait: Annotated[bool, wait_option(
        "the final model is scored (exit 1 if the job fails)")] = WAIT_DEFAULT,
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the AutoML job's id")] = False,
) -> None:
    """Submit an AutoML job: `shipyard automl --input train=DATASET --target COLUMN`.
    `shipyard automl leaderboard ID` ranks its candidates."""
    if ctx.invoked_subcommand is not None:
        return
    output_mode(json_out, quiet)
    if not input or not target:
        fail("shipyard automl needs --input train=DATASET and --target COLUMN; `shipyard "
             "automl --help` shows the rest.")
    inputs = parse_pairs(input, "--input")
    unknown = sorted(set(inputs) - set(TRAINING_CHANNELS))
    if unknown or "train" not in inputs:
        fail("An AutoML job reads --input train=DATASET (and optionally test=, validation=); "
             f"got {', '.join(sorted(inputs))}.")
    if mode not in MODES:
        fail(f"--mode is one of {', '.join(MODES)}; got {mode!r}.")
    try:
        spec = automl_spec(
            inputs["train"], target, test=inputs.get("test"),
            validation=inputs.get("validation"), metric=metric, problem_type=problem_type,
            time_budget=time_budget, mode=mode, max_candidates=max_candidates,
            parallel=parallel, algorithms=algorithm,
            split=parse_split(split) if split else None, seed=seed, experiment=experiment,
            cpus=cpus, memory=memory, cv_folds=cv_folds, sample_rows=sample_rows,
            prune=prune, drop=_names(drop), keep=_names(keep))
    except InvalidRequest as exc:
        fail(exc.message)
    c = client()
    doc = c.post("/jobs", spec)
    job = Job(doc["id"], client=c, _doc=doc)
    talk = not (json_out or quiet)
    if talk:
        stored = doc.get("spec") or {}
        # Whole numbers with few values are read as classes (a count of visits, a rating):
        # the user sees the reading before the budget is spent on it.
        how = "" if problem_type else (f" (inferred from the values of {target!r}; "
                                       "--problem-type to choose another)")
        out.print(f"Submitted AutoML job {job.id}: {stored.get('problem_type')}{how} on "
                  f"{stored.get('objective')}, {time_budget:g} s budget, mode "
                  f"{stored.get('resolved_mode', mode)}, up to {max_candidates} candidates.")
        no_target = describe_missing_target(stored)
        if no_target:
            out.print(no_target)
    said = describe_leaks((doc.get("spec") or {}).get("analysis"))
    if said and not quiet and not (wait and talk):  # a waited job's summary says it
        err.print(said)
    idle = _kept_for_nothing(doc.get("spec") or {})
    if idle and not quiet:
        err.print(idle)
    if wait:
        job.wait(progress=talk, raise_on_failure=False)
    if quiet:
        say(job.id)
    elif json_out:
        print_json(job.doc)
    elif wait:
        _print_leaderboard(job.doc, top=10)
        _print_final(job.doc)
    else:
        out.print(f"Follow it with `shipyard automl leaderboard {job.id}`.")
    if wait and job.status != "Completed":
        fail(failure_sentence(job.id, job.status, job.reason, job.message))


def _kept_for_nothing(spec: dict[str, Any]) -> str:
    """'--keep age changes nothing: ...' for --keep columns no leak check suspected."""
    idle = [str(c) for c in (spec.get("analysis") or {}).get("not_leaks") or []]
    if not idle:
        return ""
    one = len(idle) == 1
    return (f"--keep {','.join(idle)} changes nothing: {'it is' if one else 'they are'} not "
            f"a suspected leak of {spec.get('target')!r}, so every candidate uses "
            f"{'it' if one else 'them'} anyway.")


def _names(given: list[str] | None) -> list[str]:
    """Column names from repeated and comma-separated options."""
    return [n.strip() for g in given or [] for n in g.split(",") if n.strip()]


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _size(value: Any) -> str:
    if not value:
        return ""
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


def _settings(hp: dict[str, Any] | None, pipeline: str | None = None) -> str:
    """The hyperparameters, after the recipe when it is not the default one: candidates
    that differ only there (LightGBM's defaults and their log-target twin) read apart."""
    values = ", ".join(f"{k}={_num(v, 3)}" for k, v in sorted((hp or {}).items())
                       if v is not None)
    recipe = (pipeline or "").removeprefix("default recipe").removeprefix(" + ").strip()
    return f"recipe: {recipe}; {values}" if recipe else values


def _state(row: dict[str, Any]) -> str:
    """A candidate's state; a pruned one's with its round and loss."""
    pruned = row.get("pruned_at")
    if not pruned:
        return str(row.get("state") or "")
    loss = ", ".join(f"{k.removeprefix('validation.')} {_num(v)}" for k, v in pruned.items()
                     if k != "round")
    return f"pruned at round {pruned['round']} ({loss})"


def _print_leaderboard(doc: dict[str, Any], top: int | None = None) -> None:
    b = board(doc)
    rows = leaderboard_rows(doc)
    metric = (b.get("objective") or {}).get("metric", "validation")
    shown = rows[:top] if top else rows
    print_table(
        ["#", "algorithm", "state", metric, "fit s", "predict s/1k", "size", "weight",
         "job", "settings"],
        ([f"{r['number']}{' *' if r['best'] else ''}", r.get("algorithm"), _state(r),
          _num(r.get("validation")), _num(r.get("fit_seconds"), 3),
          _num(r.get("predict_seconds_per_1k_rows"), 3), _size(r.get("model_bytes")),
          _num(r.get("weight"), 3), r.get("job_id"),
          _settings(r.get("hyperparameters"), r.get("pipeline"))]
         for r in shown),
        title=f"Candidates of AutoML job {doc['id']} ({_phase(doc['status'], b)}; * best single"
              + (f"; top {top} of {len(rows)}" if top and len(rows) > top else "") + ")",
        empty=f"AutoML job {doc['id']} has no candidates yet.")


def _phase(status: str, b: dict[str, Any]) -> str:
    """'Running, searching'; an ended job's status alone ('Completed', not 'Completed,
    completed')."""
    state = str(b.get("state") or "pending")
    return status if state.lower() == status.lower() else f"{status}, {state}"


def _print_final(doc: dict[str, Any]) -> None:
    b = board(doc)
    said = describe_leaks(b.get("analysis"))
    if said:
        out.print(said)
    test = b.get("test")
    if not test:
        return
    ensemble = b.get("ensemble") or {}
    members = ensemble.get("members") or []
    what = (f"an ensemble of {len(members)} candidates" if len(members) > 1
            else "the best candidate")
    out.print(f"Final model (job {b.get('model_job_id')}): {what}; on test: "
              + ", ".join(f"{k} {v:.4g}" for k, v in sorted(test.items()) if k != "n_samples")
              + ".")
    importance = b.get("importance") or []
    if importance:
        what = "mean |SHAP|" if b.get("importance_method") == "shap" else \
            "permutation importance: loss increase when shuffled"
        out.print(f"Most important input columns ({what}, on test): "
                  + ", ".join(f"{r['column']} {r['importance']:.3g}" for r in importance[:5])
                  + ".")
    for warning in b.get("warnings") or []:
        out.print(f"Warning: {warning}")
    out.print(f"Register it with `shipyard models register GROUP --job {doc['id']}` "
              "(or a candidate with --candidate N).")


@app.command("notebooks")
def notebooks(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The AutoML job.")],
    out_dir: Annotated[Path, typer.Option(
        "--out", metavar="DIR", help="The folder to write the notebooks into (created).")
    ] = Path("automl-notebooks"),
    top: Annotated[int, typer.Option(
        "--top", metavar="N", min=1, max=20,
        help="Candidates the definition notebook writes out.")] = 3,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace notebooks already in --out (refused without it).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write an AutoML job's notebooks: data exploration (the profile's findings and why
    the recipe did what it did) and candidate definitions (the top candidates as plain
    code that trains each again and checks its validation metric)."""
    try:
        paths = write_notebooks(client(), job_id, out_dir, top, overwrite=force)
    except InvalidRequest as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"Cannot write the notebooks into {out_dir}: {exc.strerror}; give another --out.")
    if json_out:
        print_json({"id": job_id, "notebooks": [str(p) for p in paths]})
        return
    say(f"Wrote {' and '.join(str(p) for p in paths)}. Run them against this server "
        "(SHIPYARD_URL, SHIPYARD_TOKEN), e.g. in Jupyter.")


@app.command("leaderboard")
def leaderboard(
    job_id: Annotated[str, typer.Argument(metavar="ID", help="The AutoML job.")],
    json_out: JsonOpt = False,
) -> None:
    """Every candidate of an AutoML job, best first: algorithm, validation metric, fit and
    predict time, model size, weight in the final model, settings."""
    doc = client().get(f"/jobs/{quote(job_id, safe='')}")
    if doc.get("kind") != "automl":
        fail(f"Job {job_id} is of kind {doc.get('kind')!r}, not an AutoML job; `shipyard jobs "
             "list --kind automl` lists those.")
    if json_out:
        b = board(doc)
        print_json({"id": doc["id"], "status": doc["status"],
                    "candidates": leaderboard_rows(doc), "best": b.get("best"),
                    "model_job_id": b.get("model_job_id"), "test": b.get("test"),
                    "ensemble": b.get("ensemble"), "analysis": b.get("analysis")})
        return
    _print_leaderboard(doc)
    _print_final(doc)
