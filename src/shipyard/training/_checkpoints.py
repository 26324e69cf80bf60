"""Checkpoints of the boosting built-ins: one every K rounds, and a fit that continues from
the last one.

In a job, ``checkpoints/`` is synced to the artifact store while the job runs and given
back to a retried or resumed attempt (``shipyard.jobs._checkpoints``). XGBoost and
LightGBM take a checkpoint every tenth of their rounds, and at most one every
``checkpoint_seconds`` (2 s: a fit of a second takes none); one at round R is two files:

``<algorithm>-<R:07d>.json``   the fit's fingerprint (algorithm, hyperparameters,
                               problem, a hash of the training and validation rows) and
                               the evaluation history of rounds 1..R
``<algorithm>-<R:07d>.<ext>``  the model after R rounds, in the library's own format
                               (XGBoost ``.ubj``, LightGBM ``.txt``), loaded only by the
                               job's own library, never unpickled

Each is written under a temporary name (a leading ``.``, which the sync never stores)
and renamed into place, the history first and the model last, so a model file always
has its history and a half-written model is never found. The two newest rounds are
kept. A checkpoint made for another fit (other settings or data) is ignored, and said so.
The resumed fit loads the model with the library's own way to continue training
(XGBoost ``xgb_model=``, LightGBM ``init_model=``), trains only the missing rounds, and
prepends the saved history, so its bundle is the bundle of a fit that was never
interrupted: the same files, every round in the curves.

CatBoost keeps its own snapshot there instead (``catboost-<fingerprint>.snapshot``,
written to a temporary name and renamed by CatBoost itself, every few seconds), and
continues from it natively, history included (``shipyard.training._boosting``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.training._algorithms import FitData

#: A checkpoint every this share of the rounds (10 checkpoints per fit at most).
CHECKPOINT_SHARE = 0.1
#: Checkpoints kept: the newest and the one before (a sync may be reading the older).
KEEP = 2

History = dict[str, dict[str, list[float]]]


@dataclass(frozen=True)
class Resume:
    """The last usable checkpoint: the round it was taken at, its model file, history."""

    round: int
    model_path: Path
    history: History


def fingerprint(data: FitData, algorithm: str) -> str:
    """What makes a checkpoint belong to a fit: the same algorithm and settings, the same
    problem, the same rows."""
    h = hashlib.sha256()
    head = {"algorithm": algorithm, "problem_type": data.problem_type,
            "hyperparameters": dict(data.hyperparameters), "n_classes": data.n_classes,
            "seed": data.seed, "columns": [str(c) for c in data.X_train.columns]}
    h.update(json.dumps(head, sort_keys=True, default=str).encode())
    for X, y in ((data.X_train, data.y_train), (data.X_valid, data.y_valid)):
        if X is not None:
            h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        if y is not None:
            h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def merge_history(earlier: Mapping[str, Mapping[str, list[float]]],
                  later: Mapping[str, Mapping[str, Any]]) -> History:
    """``earlier``'s rounds followed by ``later``'s, split by split and metric."""
    merged: History = {split: {m: list(v) for m, v in metrics.items()}
                       for split, metrics in earlier.items()}
    for split, metrics in later.items():
        for metric, values in metrics.items():
            merged.setdefault(split, {}).setdefault(metric, []).extend(
                float(v) for v in values)
    return merged


class BoostingCheckpoints:
    """Checkpoints of one boosting fit in one folder (see the module docstring)."""

    def __init__(self, folder: Path, algorithm: str, extension: str, total: int,
                 fingerprint: str, log: Callable[[str], None], every: int | None = None,
                 min_seconds: float = 0.0) -> None:
        self.folder = folder
        self.algorithm = algorithm
        self.extension = extension
        self.total = total
        self.fingerprint = fingerprint
        self.log = log
        self.every = every or max(1, math.ceil(total * CHECKPOINT_SHARE))
        self._pattern = re.compile(rf"^{re.escape(algorithm)}-(\d{{7}})\.json$")
        self._saved = 0
        self.min_seconds = min_seconds
        self._saved_at = time.monotonic()  # the fit's start counts as a save

    def _name(self, done: int, suffix: str) -> str:
        return f"{self.algorithm}-{done:07d}{suffix}"

    def _rounds(self) -> list[int]:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return []
        return sorted((int(m.group(1)) for n in names if (m := self._pattern.match(n))),
                      reverse=True)

    def last(self) -> Resume | None:
        """The newest complete checkpoint of this fit, if any (logged either way)."""
        foreign = 0
        for done in self._rounds():
            model = self.folder / self._name(done, self.extension)
            if not 0 < done < self.total or not model.is_file():
                continue
            try:
                doc = json.loads((self.folder / self._name(done, ".json")).read_text())
            except (OSError, ValueError):
                continue
            if not isinstance(doc, dict) or doc.get("fingerprint") != self.fingerprint:
                foreign += 1
                continue
            self._saved = done
            history = doc.get("history")
            return Resume(round=done, model_path=model,
                          history=merge_history({}, history if isinstance(history, dict)
                                                else {}))
        if foreign:
            self.log(f"[training] ignoring {foreign} checkpoint(s) in {self.folder.name}/ made "
                     "for other settings or data; training from round 0")
        return None

    def due(self, done: int) -> bool:
        """Whether to save after round ``done``: ``every`` rounds and ``min_seconds`` after
        the last save (never after the last round: the bundle is next)."""
        return done < self.total and done - self._saved >= self.every and \
            time.monotonic() - self._saved_at >= self.min_seconds

    def save(self, done: int, write_model: Callable[[Path], None], history: History) -> None:
        """Write the checkpoint of round ``done``; drop all but the :data:`KEEP` newest."""
        self.folder.mkdir(parents=True, exist_ok=True)
        doc = {"algorithm": self.algorithm, "round": done, "total": self.total,
               "fingerprint": self.fingerprint, "history": history}
        meta_tmp = self.folder / f".{self._name(done, '.json')}"
        meta_tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(meta_tmp, self.folder / self._name(done, ".json"))
        # The library picks the format by the extension: keep it, mark temporary by the dot.
        model_tmp = self.folder / f".{self._name(done, self.extension)}"
        write_model(model_tmp)
        os.replace(model_tmp, self.folder / self._name(done, self.extension))
        self._saved, self._saved_at = done, time.monotonic()
        self.log(f"[training] checkpoint saved at round {done} of {self.total}")
        for old in self._rounds()[KEEP:]:
            for suffix in (self.extension, ".json"):
                (self.folder / self._name(old, suffix)).unlink(missing_ok=True)


def checkpoints_for(data: FitData, algorithm: str, extension: str,
                    total: int) -> BoostingCheckpoints | None:
    """The checkpoints of this fit, or None where it takes none: outside a job, with
    early stopping (its patience is not kept across attempts), or trained on several
    instances."""
    if data.checkpoint_dir is None:
        return None
    if data.instances > 1:
        data.log("[training] no checkpoints: a fit on several instances is not resumable")
        return None
    if data.hyperparameters.get("early_stopping_rounds") is not None:
        data.log("[training] no checkpoints: early_stopping_rounds is set (its state is not "
                 "kept across attempts); a retried job trains from round 0")
        return None
    return BoostingCheckpoints(data.checkpoint_dir, algorithm, extension, total,
                               fingerprint(data, algorithm), data.log,
                               every=data.checkpoint_every,
                               min_seconds=data.checkpoint_seconds)


def resuming(ckpt: BoostingCheckpoints | None, total: int,
             log: Callable[[str], None]) -> Resume | None:
    """The checkpoint to continue from, said in the log."""
    resume = ckpt.last() if ckpt is not None else None
    if resume is not None:
        log(f"[training] resuming from checkpoint at round {resume.round} of {total}; "
            f"training the other {total - resume.round}")
    return resume
