"""Gradient boosting built-ins: XGBoost, LightGBM, CatBoost (native APIs, native files).

Each records the per-iteration loss on the training and the validation split.
The validation split stops training early only when ``early_stopping_rounds`` is
given; otherwise every round is kept and the curves just show how training went.
In a job, each writes a checkpoint every tenth of its rounds and continues from the
last one it finds (:mod:`shipyard.training._checkpoints`).
"""

from __future__ import annotations

import tempfile
from typing import Any

from shipyard.bundle import get_framework
from shipyard.evaluation import curves_from_evals
from shipyard.training._algorithms import (
    Algorithm,
    AlgorithmInfo,
    FitData,
    FitResult,
    early_stopping,
    register,
)
from shipyard.training._checkpoints import (
    BoostingCheckpoints,
    History,
    checkpoints_for,
    merge_history,
    resuming,
)
from shipyard.training._distributed import fit_distributed
from shipyard.training._hyperparameters import Hyperparameter as H
from shipyard.training._progress import Progress

#: CatBoost rewrites its snapshot (its checkpoint) at most this often, in seconds.
CATBOOST_SNAPSHOT_SECONDS = 5
BOOSTING_PROBLEMS = frozenset({"binary", "multiclass", "regression"})

_EARLY = H("early_stopping_rounds", "int", None, 1, 1000,
           description="stop when the validation loss has not improved for this many rounds; "
                       "null trains every round")


def _has_valid(data: FitData) -> bool:
    return data.X_valid is not None and len(data.X_valid) > 0 and data.y_valid is not None


def _xgboost_callback(progress: Progress, start: int = 0,
                      ckpt: BoostingCheckpoints | None = None,
                      earlier: History | None = None) -> Any:
    """Progress after each round; a checkpoint when one is due. ``epoch`` counts the
    rounds of this call of ``xgb.train`` (from 0 also when it continues a model)."""
    import xgboost as xgb

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            done = start + epoch + 1
            progress.update(done)
            if progress.curves_due():
                progress.curves(curves_from_evals(merge_history(earlier or {}, evals_log)))
            if ckpt is not None and ckpt.due(done):
                ckpt.save(done, lambda path: model.save_model(str(path)),
                          merge_history(earlier or {}, evals_log))
            return False  # never stops training

    return Report()


class _CatBoostReport:
    """CatBoost's callback protocol: ``after_iteration(info)`` returns whether to go on.

    A fit that continued a snapshot starts past iteration 1: that is said in the log."""

    def __init__(self, progress: Progress, log: Any = None, total: int = 0) -> None:
        self.progress = progress
        self.log = log
        self.total = total
        self.done = 0

    def after_iteration(self, info: Any) -> bool:
        if self.done == 0 and int(info.iteration) > 1 and self.log is not None:
            start = int(info.iteration) - 1
            self.progress.resumed_at = start
            self.log(f"[training] resuming from checkpoint at round {start} of {self.total}; "
                     f"training the other {self.total - start}")
        self.done = int(info.iteration)
        self.progress.update(self.done)
        if self.progress.curves_due():  # live, for the debugger's rules and hyperband
            metrics = getattr(info, "metrics", None) or {}
            self.progress.curves(curves_from_evals(
                {k: {m.lower(): v for m, v in ms.items()} for k, ms in metrics.items()}))
        return True


@register
class XGBoost(Algorithm):
    info = AlgorithmInfo(
        name="xgboost", problem_types=BOOSTING_PROBLEMS, needs_scaling=False,
        categorical="onehot", framework="xgboost",
        description="Gradient-boosted trees (XGBoost, histogram method).",
        size_drivers="n_estimators (one tree per round and class) and max_depth (up to "
                     "2^max_depth leaves per tree)",
        hyperparameters=(
            H("n_estimators", "int", 300, 1, 10_000, search=(50, 1000, True),
              description="boosting rounds"),
            H("learning_rate", "float", 0.05, 1e-4, 1.0, log=True, search=(0.01, 0.3, True),
              description="shrinkage"),
            H("max_depth", "int", 4, 1, 20, search=(2, 10, False),
              description="depth of each tree"),
            H("min_child_weight", "float", 1.0, 0.0, 1000.0, search=(0.1, 20.0, True),
              description="minimum hessian weight in a leaf"),
            H("subsample", "float", 0.8, 0.05, 1.0, search=(0.5, 1.0, False),
              description="share of rows per tree"),
            H("colsample_bytree", "float", 0.8, 0.05, 1.0, search=(0.5, 1.0, False),
              description="share of features per tree"),
            H("reg_lambda", "float", 1.0, 1e-8, 100.0, log=True, search=(1e-3, 10.0, True),
              description="L2 penalty"),
            H("reg_alpha", "float", 0.0, 0.0, 100.0, search=(1e-3, 10.0, True),
              description="L1 penalty"),
            H("gamma", "float", 0.0, 0.0, 100.0, search=(0.0, 5.0, False),
              description="minimum loss reduction to split"),
            _EARLY,
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        import xgboost as xgb

        hp, rounds = data.hyperparameters, early_stopping(data)
        objective, metric = {
            "binary": ("binary:logistic", "logloss"),
            "multiclass": ("multi:softprob", "mlogloss"),
            "regression": ("reg:squarederror", "rmse"),
        }[data.problem_type]
        params: dict[str, Any] = {
            "objective": objective, "eval_metric": metric, "tree_method": "hist",
            "eta": hp["learning_rate"], "max_depth": hp["max_depth"],
            "min_child_weight": hp["min_child_weight"], "subsample": hp["subsample"],
            "colsample_bytree": hp["colsample_bytree"], "lambda": hp["reg_lambda"],
            "alpha": hp["reg_alpha"], "gamma": hp["gamma"], "seed": data.seed,
            "nthread": data.n_jobs, "verbosity": 0,
        }
        if data.problem_type == "multiclass":
            params["num_class"] = data.n_classes
        if data.instances > 1:
            model, evals_log, best_round = fit_distributed(
                "xgboost", params, data, hp["n_estimators"], rounds, _has_valid(data))
            if best_round is not None:
                model = model[: best_round + 1]
            return FitResult(model=model, curves=curves_from_evals(evals_log),
                             best_iteration=best_round)
        adapter = get_framework("xgboost")
        dtrain = adapter.matrix(data.X_train, data.y_train)  # type: ignore[attr-defined]
        evals = [(dtrain, "train")]
        if _has_valid(data):
            evals.append((adapter.matrix(data.X_valid, data.y_valid), "validation"))  # type: ignore[attr-defined]
        history: dict[str, Any] = {}
        total = hp["n_estimators"]
        progress = data.progress(total, "boosting rounds")
        ckpt = checkpoints_for(data, "xgboost", ".ubj", total)
        resume = resuming(ckpt, total, data.log)
        start, earlier, init = 0, {}, None
        if resume is not None:
            start, earlier = resume.round, resume.history
            init = xgb.Booster(model_file=str(resume.model_path))  # the job's own file
            progress.resumed_at = start
        booster = xgb.train(params, dtrain, num_boost_round=total - start, evals=evals,
                            evals_result=history, early_stopping_rounds=rounds,
                            verbose_eval=False, xgb_model=init,
                            callbacks=[_xgboost_callback(progress, start, ckpt, earlier)])
        history = merge_history(earlier, history)
        progress.finish(booster.num_boosted_rounds())
        best = None
        if rounds is not None:
            best = int(booster.best_iteration)
            booster = booster[: best + 1]  # the saved model is exactly the one evaluated
        return FitResult(model=booster, curves=curves_from_evals(history), best_iteration=best)


@register
class LightGBM(Algorithm):
    info = AlgorithmInfo(
        name="lightgbm", problem_types=BOOSTING_PROBLEMS, needs_scaling=False,
        categorical="native", framework="lightgbm",
        description="Gradient-boosted trees (LightGBM, leaf-wise, native categories).",
        size_drivers="n_estimators (one tree per round and class) and num_leaves",
        hyperparameters=(
            H("n_estimators", "int", 300, 1, 10_000, search=(50, 1000, True),
              description="boosting rounds"),
            H("learning_rate", "float", 0.05, 1e-4, 1.0, log=True, search=(0.01, 0.3, True),
              description="shrinkage"),
            H("num_leaves", "int", 31, 2, 4096, search=(4, 256, True),
              description="leaves per tree"),
            H("max_depth", "int", None, 1, 64, description="depth limit; null for none"),
            H("min_child_samples", "int", 20, 1, 10_000, search=(2, 100, True),
              description="minimum rows in a leaf"),
            H("subsample", "float", 0.8, 0.05, 1.0, search=(0.5, 1.0, False),
              description="share of rows per round"),
            H("colsample_bytree", "float", 0.8, 0.05, 1.0, search=(0.5, 1.0, False),
              description="share of features per tree"),
            H("reg_lambda", "float", 0.0, 0.0, 100.0, search=(1e-3, 10.0, True),
              description="L2 penalty"),
            H("reg_alpha", "float", 0.0, 0.0, 100.0, search=(1e-3, 10.0, True),
              description="L1 penalty"),
            _EARLY,
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        import lightgbm as lgb

        hp, rounds = data.hyperparameters, early_stopping(data)
        objective, metric = {
            "binary": ("binary", "binary_logloss"),
            "multiclass": ("multiclass", "multi_logloss"),
            "regression": ("regression", "rmse"),
        }[data.problem_type]
        params: dict[str, Any] = {
            "objective": objective, "metric": metric, "learning_rate": hp["learning_rate"],
            "num_leaves": hp["num_leaves"], "max_depth": hp["max_depth"] or -1,
            "min_child_samples": hp["min_child_samples"],
            "bagging_fraction": hp["subsample"], "bagging_freq": 1 if hp["subsample"] < 1 else 0,
            "feature_fraction": hp["colsample_bytree"], "lambda_l2": hp["reg_lambda"],
            "lambda_l1": hp["reg_alpha"], "seed": data.seed, "num_threads": data.n_jobs,
            "verbosity": -1, "deterministic": True, "force_row_wise": True,
        }
        if data.problem_type == "multiclass":
            params["num_class"] = data.n_classes
        if data.instances > 1:
            model, evals_log, best_round = fit_distributed(
                "lightgbm", params, data, hp["n_estimators"], rounds, _has_valid(data))
            return FitResult(model=model, curves=curves_from_evals(evals_log),
                             best_iteration=best_round)
        frame = get_framework("lightgbm").frame  # type: ignore[attr-defined]
        train = lgb.Dataset(frame(data.X_train), label=data.y_train, free_raw_data=False)
        sets, names = [train], ["train"]
        if _has_valid(data):
            sets.append(lgb.Dataset(frame(data.X_valid), label=data.y_valid, reference=train))
            names.append("validation")
        history: dict[str, Any] = {}
        total = hp["n_estimators"]
        progress = data.progress(total, "boosting rounds")
        ckpt = checkpoints_for(data, "lightgbm", ".txt", total)
        resume = resuming(ckpt, total, data.log)
        start, earlier = (resume.round, resume.history) if resume is not None else (0, {})
        progress.resumed_at = start

        def report(env: Any) -> None:
            # ``iteration`` counts from the continued model's rounds (``begin_iteration``).
            done = start + env.iteration - env.begin_iteration + 1
            progress.update(done)
            if progress.curves_due():
                progress.curves(curves_from_evals(merge_history(earlier, history)))
            if ckpt is not None and ckpt.due(done):
                ckpt.save(done, lambda path: env.model.save_model(str(path)),
                          merge_history(earlier, history))

        report.order = 40  # type: ignore[attr-defined]  # after record_evaluation (20)
        callbacks = [lgb.record_evaluation(history), report]
        if rounds is not None:
            callbacks.append(lgb.early_stopping(rounds, verbose=False))
        booster = lgb.train(params, train, num_boost_round=total - start, valid_sets=sets,
                            valid_names=names, callbacks=callbacks,
                            init_model=str(resume.model_path) if resume is not None else None)
        history = merge_history(earlier, history)
        progress.finish(booster.current_iteration())
        best = int(booster.best_iteration) - 1 if rounds is not None else None
        return FitResult(model=booster, curves=curves_from_evals(history), best_iteration=best)


@register
class CatBoost(Algorithm):
    info = AlgorithmInfo(
        name="catboost", problem_types=BOOSTING_PROBLEMS, needs_scaling=False,
        categorical="native", framework="catboost",
        description="Gradient-boosted oblivious trees (CatBoost, native categories).",
        size_drivers="iterations (one tree per round) and depth (2^depth leaves per tree)",
        hyperparameters=(
            H("iterations", "int", 500, 1, 10_000, search=(100, 1000, True),
              description="boosting rounds"),
            H("learning_rate", "float", 0.08, 1e-4, 1.0, log=True, search=(0.01, 0.3, True),
              description="shrinkage"),
            H("depth", "int", 6, 1, 16, search=(3, 10, False), description="depth of each tree"),
            H("l2_leaf_reg", "float", 3.0, 1e-3, 100.0, log=True, search=(0.1, 30.0, True),
              description="L2 penalty"),
            H("random_strength", "float", 1.0, 0.0, 100.0, search=(0.0, 10.0, False),
              description="randomness of split scores"),
            _EARLY,
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from catboost import CatBoost as Model

        hp, rounds = data.hyperparameters, early_stopping(data)
        loss = {"binary": "Logloss", "multiclass": "MultiClass",
                "regression": "RMSE"}[data.problem_type]
        params = {
            "loss_function": loss, "iterations": hp["iterations"],
            "learning_rate": hp["learning_rate"], "depth": hp["depth"],
            "l2_leaf_reg": hp["l2_leaf_reg"], "random_strength": hp["random_strength"],
            "random_seed": data.seed, "thread_count": data.n_jobs, "verbose": False,
            "allow_writing_files": False,
        }
        pool = get_framework("catboost").pool  # type: ignore[attr-defined]
        train = pool(data.X_train, data.y_train)
        valid = pool(data.X_valid, data.y_valid) if _has_valid(data) else None
        progress = data.progress(hp["iterations"], "boosting rounds")
        ckpt = checkpoints_for(data, "catboost", ".cbm", hp["iterations"])
        if ckpt is not None:
            model, history, done = _catboost_with_snapshots(Model, params, train, valid, ckpt,
                                                            progress, data.log)
            progress.finish(done)
        else:
            model = Model(params)
            report = _CatBoostReport(progress)
            model.fit(train, eval_set=valid, early_stopping_rounds=rounds,
                      use_best_model=rounds is not None and valid is not None,
                      callbacks=[report])
            progress.finish(report.done)
            history = model.get_evals_result()
        best = int(model.get_best_iteration()) if rounds is not None else None
        curves = curves_from_evals({k: {m.lower(): v for m, v in metrics.items()}
                                    for k, metrics in history.items()})
        return FitResult(model=model, curves=curves, best_iteration=best)



def _catboost_with_snapshots(model_class: Any, params: dict[str, Any], train: Any,
                             valid: Any, ckpt: BoostingCheckpoints,
                             progress: Progress, log: Any) -> tuple[Any, History, int]:
    """CatBoost with its own snapshots, its native way to continue a fit: a snapshot file
    of this fit in the checkpoints folder, rewritten every :data:`CATBOOST_SNAPSHOT_SECONDS`
    (CatBoost writes a temporary file and renames it), and continued from when present.
    Returns the model, its history (every round) and the rounds done."""
    total = int(params["iterations"])
    snapshot = ckpt.folder / f"catboost-{ckpt.fingerprint[:16]}.snapshot"
    if any(p.suffix == ".snapshot" and p != snapshot for p in ckpt.folder.glob("catboost-*")):
        log("[training] ignoring a CatBoost snapshot made for other settings or data")
    ckpt.folder.mkdir(parents=True, exist_ok=True)
    report = _CatBoostReport(progress, log=log, total=total)
    continued = snapshot.is_file()
    with tempfile.TemporaryDirectory(prefix="catboost-") as train_dir:
        model = model_class({**params, "allow_writing_files": True, "train_dir": train_dir,
                             "save_snapshot": True, "snapshot_file": str(snapshot),
                             "snapshot_interval": CATBOOST_SNAPSHOT_SECONDS})
        model.fit(train, eval_set=valid, use_best_model=False, callbacks=[report])
    if continued and report.done == 0:  # the snapshot held every round: no callback ran
        progress.resumed_at = total
        log(f"[training] resuming from checkpoint at round {total} of {total}; nothing "
            "left to train")
    history = merge_history({}, model.get_evals_result())
    return model, history, int(model.tree_count_)
