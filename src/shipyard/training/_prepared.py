"""A training request's data as the model sees it, prepared once and shared by a study.

Every trial of a tuning study trains one algorithm on the same pinned datasets, split,
recipe and seed; only the hyperparameters differ. So the first trials of each algorithm
save what they prepared (the split, the recipe fitted on the training split, the feature
frames and the encoded targets) into ``output/prepared/``, and the tuning driver stages
those files into every later trial's ``input/prepared/`` (docs/tuning.md): the later
trials skip reading the raw data and fitting the recipe, which is most of a short trial's
start (on ames, ~1 s of ~1.5 s).

Nothing here is unpickled: the recipe is its JSON, the frames are Parquet and the targets
``.npy`` files read with ``allow_pickle=False``. :meth:`PreparedData.load` checks every
column's dtype against what was saved and refuses on any difference; the entry then
prepares the data again from the raw inputs rather than train on something else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.features import FittedRecipe

#: The description of the prepared data; its presence marks a complete save.
META_FILE = "prepared.json"
FORMAT = 1
#: The feature frames kept: the rows the model trains on ("fit"), and the held-out splits.
FRAMES = ("fit", "validation", "test")
#: The encoded targets kept: those frames' and the train split's (the baselines').
TARGETS = ("fit", "train", "validation", "test")


class PreparedDataError(ValueError):
    """Prepared data that cannot be used as saved (prepare from the raw data instead)."""


@dataclass
class PreparedData:
    """The prepared side of one training request (see :func:`shipyard.training._entry`)."""

    target: str | None
    problem_type: str
    classes: list[str] | None
    #: Notes on the data and the recipe, as the first preparation logged them.
    notes: list[str]
    #: The split's record (method, seed, row counts), as the bundle's manifest keeps it.
    record: dict[str, Any]
    fitted: FittedRecipe
    #: Features per frame of :data:`FRAMES`; ``fit`` is what the model trains on.
    X: dict[str, pd.DataFrame]
    #: Encoded targets per name of :data:`TARGETS` (None: unsupervised).
    y: dict[str, np.ndarray | None]

    def save(self, folder: Path) -> None:
        """Write into ``folder``; :data:`META_FILE` last, so a partial save is no save."""
        folder.mkdir(parents=True, exist_ok=True)
        frames: dict[str, Any] = {}
        for name in FRAMES:
            frame = self.X[name].reset_index(drop=True)
            frame.to_parquet(folder / f"{name}.parquet", index=False)
            frames[name] = {
                "rows": len(frame),
                "dtypes": {str(c): str(t) for c, t in frame.dtypes.items()},
                "categories": {str(c): t.categories.tolist() for c, t in frame.dtypes.items()
                               if isinstance(t, pd.CategoricalDtype)},
            }
        targets = {}
        for name in TARGETS:
            y = self.y.get(name)
            targets[name] = y is not None
            if y is not None:
                np.save(folder / f"{name}.y.npy", np.asarray(y), allow_pickle=False)
        meta = {"format": FORMAT, "target": self.target, "problem_type": self.problem_type,
                "classes": self.classes, "notes": self.notes, "record": self.record,
                "recipe": self.fitted.to_dict(), "frames": frames, "targets": targets}
        (folder / META_FILE).write_text(json.dumps(meta, default=_plain), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, test: bool = True) -> PreparedData:
        """Read a save back exactly as it was (``test`` False: the test features are left
        unread, an empty frame, for a trial that does not score them).

        Raises:
            PreparedDataError: a missing file, another format, or a column whose dtype or
                categories differ from the save.
        """
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if meta.get("format") != FORMAT:
                raise PreparedDataError(f"format {meta.get('format')!r}, not {FORMAT}")
            X: dict[str, pd.DataFrame] = {}
            y: dict[str, np.ndarray | None] = {}
            for name in FRAMES:
                saved = meta["frames"][name]
                if name == "test" and not test:
                    X[name] = pd.DataFrame(columns=list(saved["dtypes"]))
                    continue
                frame = pd.read_parquet(folder / f"{name}.parquet")
                for col, cats in saved["categories"].items():
                    read = frame[col].dtype
                    if isinstance(read, pd.CategoricalDtype) and \
                            read.categories.tolist() == cats:
                        continue  # read back as saved (Parquet keeps the dictionary)
                    ordered = getattr(read, "ordered", False)
                    values = frame[col].dropna()
                    if not values.astype(object).isin(cats).all():  # a label read back as another
                        raise PreparedDataError(f"the categories of {col!r} read back differently")
                    frame[col] = frame[col].astype(pd.CategoricalDtype(cats, ordered=ordered))
                got = {str(c): str(t) for c, t in frame.dtypes.items()}
                if got != saved["dtypes"] or len(frame) != saved["rows"]:
                    raise PreparedDataError(f"the {name} frame reads back differently")
                X[name] = frame
            rows = {**{k: v["rows"] for k, v in meta["frames"].items()},
                    "train": meta["record"]["row_counts"]["train"]}
            for name in TARGETS:
                target = np.load(folder / f"{name}.y.npy", allow_pickle=False) \
                    if meta["targets"][name] else None
                if target is not None and len(target) != rows[name]:
                    raise PreparedDataError(f"the {name} targets do not match its rows")
                y[name] = target
            return cls(target=meta["target"], problem_type=str(meta["problem_type"]),
                       classes=meta["classes"], notes=[str(n) for n in meta["notes"]],
                       record=dict(meta["record"]),
                       fitted=FittedRecipe.from_dict(meta["recipe"]), X=X, y=y)
        except PreparedDataError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PreparedDataError(f"{type(exc).__name__}: {exc}") from None


def _plain(value: Any) -> Any:
    """NumPy scalars (category labels, counts) as JSON numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
