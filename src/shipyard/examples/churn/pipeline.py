"""Retrain the churn model: split, train, evaluate on held-out rows, register if good.

`shipyard pipelines create churn-retrain --file pipeline.py` compiles this to the JSON
definition the server keeps (`shipyard pipelines describe churn-retrain` shows it).
"""
from pathlib import Path

import shipyard as sy

HERE = Path(__file__).parent

data = sy.Parameter("data", "dataset", default="churn")
min_auc = sy.Parameter("min_auc", float, default=0.80)

split = sy.steps.Processing("split", HERE / "split.py", inputs={"raw": data},
                            outputs=["churn-train", "churn-holdout"])
train = sy.steps.Training("train", algorithm="xgboost", train=split.outputs["churn-train"],
                          target="churn", cache=False)  # always train anew
evaluate = sy.steps.Evaluate("evaluate", job=train.model, test=split.outputs["churn-holdout"])
register = sy.steps.Register("register", model=train.model, group="churn-model")
too_weak = sy.steps.Fail("too-weak", "The retrained model is below the ROC AUC bar.")
gate = sy.steps.Condition("gate", evaluate.metrics.test.roc_auc >= min_auc,
                          then=[register], else_=[too_weak])

pipeline = sy.Pipeline("churn-retrain", parameters=[data, min_auc],
                       steps=[split, train, evaluate, gate, register, too_weak])
