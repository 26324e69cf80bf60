"""The ``balance`` step: resample the training rows of a classification target.

It acts only while the recipe is fitted (``fit_transform``), on the rows it is
fitted on: the training split. Its ``transform`` returns rows unchanged, so
validation, test, batch and serving rows are never resampled. Methods:

- ``oversample``: draw extra rows (with replacement) of every class smaller than
  ``ratio`` × the largest class, up to that size;
- ``undersample``: keep a random subset of every class larger than the smallest
  class / ``ratio``;
- ``smote``: synthesise rows of the smaller classes between a row and one of its
  ``k_neighbors`` nearest neighbours of the same class (imbalanced-learn's SMOTE);
  every feature must be numeric and complete at this step, so put ``balance``
  after ``impute`` and the encoding steps.

The fitted state records the class counts before and after, for the job log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._encode import target_task
from shipyard.features._params import Check, integer, number, one_of, seed
from shipyard.features._semantic import is_numeric_dtype
from shipyard.features._steps import State, Step, register_step

BALANCE_METHODS = ("oversample", "undersample", "smote")


def _counts(y: pd.Series) -> dict[str, int]:
    counts = y.astype("object").map(str).value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


@register_step
class Balance(Step):
    name = "balance"
    description = ("Training only: resample the training rows so classes are balanced "
                   "(random over- or under-sampling, or SMOTE); new rows pass unchanged.")
    defaults = {"method": "oversample", "ratio": 1.0, "seed": 0, "k_neighbors": 5}
    checks = {"method": one_of(*BALANCE_METHODS),
              "ratio": Check("in (0, 1] (the smaller class / the larger class after "
                             "resampling)", number(0, 1, low_open=True)),
              "seed": seed(), "k_neighbors": integer(1)}

    def _targets(self, counts: dict[str, int]) -> dict[str, int]:
        """The row count every class should have after resampling."""
        ratio = float(self.params["ratio"])
        if self.params["method"] == "undersample":
            floor = int(np.ceil(min(counts.values()) / ratio))
            return {c: min(n, floor) for c, n in counts.items()}
        ceiling = int(np.floor(max(counts.values()) * ratio))
        return {c: max(n, ceiling) for c, n in counts.items()}

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        return self.fit_transform(df, y)[0]

    def fit_transform(self, df: pd.DataFrame, y: pd.Series | None,
                      ) -> tuple[State, pd.DataFrame, pd.Series | None]:
        method = self.params["method"]
        if y is None or target_task(y) != "classification":
            raise InvalidRequest("The balance step resamples classes; it needs a "
                                 "classification target (fit the recipe with target=…).")
        if y.isna().any():
            raise InvalidRequest(f"The target has {int(y.isna().sum())} missing value(s); drop "
                                 "those rows before balancing the classes.")
        y = y.reset_index(drop=True)
        df = df.reset_index(drop=True)
        before = _counts(y)
        targets = self._targets(before)
        if method == "smote":
            out, y_out = self._smote(df, y, targets)
        else:
            rows = self._sample(y, targets)
            out, y_out = df.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)
        state = {"method": method, "before": before, "after": _counts(y_out)}
        return state, out, y_out

    def _sample(self, y: pd.Series, targets: dict[str, int]) -> np.ndarray:
        rng = np.random.default_rng(int(self.params["seed"]))
        labels = y.astype("object").map(str).to_numpy()
        picked: list[np.ndarray] = []
        for cls, want in targets.items():
            rows = np.flatnonzero(labels == cls)
            if want <= len(rows):
                picked.append(np.sort(rng.choice(rows, size=want, replace=False)))
            else:
                picked.append(np.concatenate([rows, rng.choice(rows, size=want - len(rows))]))
        return np.concatenate(picked)

    def _smote(self, df: pd.DataFrame, y: pd.Series, targets: dict[str, int],
               ) -> tuple[pd.DataFrame, pd.Series]:
        try:
            from imblearn.over_sampling import SMOTE
        except ImportError:  # pragma: no cover - the ml extra installs it
            raise InvalidRequest("SMOTE needs imbalanced-learn: pip install "
                                 "'shipyard[ml]'.") from None
        for col in df.columns:
            if not is_numeric_dtype(df[col]) or df[col].isna().any():
                raise InvalidRequest(
                    f"SMOTE needs numeric, complete features; column {col!r} is "
                    f"{'not numeric' if not is_numeric_dtype(df[col]) else 'missing values'} "
                    "here. Put 'balance' after the 'impute' and encoding steps.")
        labels = y.astype("object").map(str)
        smallest = min(int((labels == c).sum()) for c in targets)
        k = min(int(self.params["k_neighbors"]), smallest - 1)
        if k < 1:
            raise InvalidRequest("SMOTE needs at least two rows of every class; use method "
                                 "'oversample'.")
        smote = SMOTE(sampling_strategy=targets, k_neighbors=k,
                      random_state=int(self.params["seed"]))
        X, y_str = smote.fit_resample(df.to_numpy(dtype="float64"), labels.to_numpy())
        # Labels go back to the target's own values (numbers stay numbers).
        back = {str(v): v for v in y.drop_duplicates()}
        y_out = pd.Series([back[v] for v in y_str], name=y.name).astype(y.dtype)
        return pd.DataFrame(X, columns=df.columns), y_out

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        return df
