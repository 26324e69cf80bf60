"""Data-parallel XGBoost and LightGBM over ``instances`` Ray actors (``--instances N``).

Runs inside a training job on the Ray executor (which gives the job
``SHIPYARD_RAY_ADDRESS``). The job's process is the coordinator: it connects to the
cluster, splits the prepared training (and validation) rows into one shard per
instance, and starts one worker actor per instance, each asking for the job's CPUs.
The workers train one model together through the library's own distributed mode:

- XGBoost: its collective (Rabit) with a :class:`xgboost.tracker.RabitTracker` that
  the coordinator runs; histograms and metrics are all-reduced across workers.
- LightGBM: its socket network (``tree_learner=data``, ``machines``), each worker
  listening on a free port of its node.

Worker 0's model comes back as the library's native bytes and is loaded here, so the
bundle is exactly the format of a single-node fit.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest

ADDRESS_VARIABLE = "SHIPYARD_RAY_ADDRESS"
#: The algorithms that train over several instances.
DISTRIBUTED_ALGORITHMS = ("xgboost", "lightgbm")


def _shards(n: int, instances: int) -> list[np.ndarray]:
    """Row positions of each instance: contiguous, nearly equal blocks."""
    return [a for a in np.array_split(np.arange(n), instances) if len(a)]


def _split(X: Any, y: Any, parts: Sequence[np.ndarray]) -> list[tuple[Any, Any]]:
    return [(X.iloc[p], None if y is None else y[p]) for p in parts]


class _XGBoostWorker:
    def train(self, tracker: dict[str, Any], params: dict[str, Any], train: tuple[Any, Any],
              valid: tuple[Any, Any] | None, rounds: int, early: int | None
              ) -> tuple[bytes, dict[str, Any], int | None]:
        import xgboost as xgb

        from shipyard.bundle import get_framework

        adapter = get_framework("xgboost")
        with xgb.collective.CommunicatorContext(**tracker):
            dtrain = adapter.matrix(*train)  # type: ignore[attr-defined]
            evals = [(dtrain, "train")]
            if valid is not None:
                evals.append((adapter.matrix(*valid), "validation"))  # type: ignore[attr-defined]
            history: dict[str, Any] = {}
            booster = xgb.train(params, dtrain, num_boost_round=rounds, evals=evals,
                                evals_result=history, early_stopping_rounds=early,
                                verbose_eval=False)
            best = int(booster.best_iteration) if early is not None else None
            return bytes(booster.save_raw("ubj")), history, best


class _LightGBMWorker:
    def listen(self) -> str:
        """``ip:port`` this worker will listen on (a port free right now)."""
        import ray

        with socket.socket() as s:
            s.bind(("", 0))
            self.port = int(s.getsockname()[1])
        return f"{ray.util.get_node_ip_address()}:{self.port}"

    def train(self, machines: str, params: dict[str, Any], train: tuple[Any, Any],
              valid: tuple[Any, Any] | None, rounds: int, early: int | None
              ) -> tuple[str, dict[str, Any], int | None]:
        import lightgbm as lgb

        from shipyard.bundle import get_framework

        frame = get_framework("lightgbm").frame  # type: ignore[attr-defined]
        params = {**params, "tree_learner": "data", "machines": machines,
                  "num_machines": len(machines.split(",")), "local_listen_port": self.port,
                  "pre_partition": True, "time_out": 5}
        dtrain = lgb.Dataset(frame(train[0]), label=train[1], free_raw_data=False)
        sets, names = [dtrain], ["train"]
        if valid is not None:
            sets.append(lgb.Dataset(frame(valid[0]), label=valid[1], reference=dtrain))
            names.append("validation")
        history: dict[str, Any] = {}
        callbacks: list[Callable[..., Any]] = [lgb.record_evaluation(history)]
        if early is not None:
            callbacks.append(lgb.early_stopping(early, verbose=False))
        booster = lgb.train(params, dtrain, num_boost_round=rounds, valid_sets=sets,
                            valid_names=names, callbacks=callbacks)
        best = int(booster.best_iteration) - 1 if early is not None else None
        model = booster.model_to_string()
        booster.free_network()
        return model, history, best


def _connect(instances: int) -> Any:
    address = os.environ.get(ADDRESS_VARIABLE)
    if not address:
        raise InvalidRequest(f"instances={instances} needs the Ray executor; this job runs "
                             "without a Ray cluster. Use instances=1.")
    import ray

    ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    return ray


def fit_distributed(framework: str, params: dict[str, Any], data: Any, rounds: int,
                    early: int | None, valid: bool) -> tuple[Any, dict[str, Any], int | None]:
    """Train ``framework`` over ``data.instances`` workers.

    Returns:
        The native booster (as a single-node fit returns it), the evaluation history and
        the best iteration (early stopping) or None.
    """
    instances = int(data.instances)
    ray = _connect(instances)
    try:
        cpus = int(os.environ.get("SHIPYARD_NUM_CPUS") or 1)
        parts = _shards(len(data.X_train), instances)
        train = [ray.put(s) for s in _split(data.X_train, data.y_train, parts)]
        valid_refs: list[Any] = [None] * len(train)
        if valid:
            vparts = _shards(len(data.X_valid), len(train))
            if len(vparts) == len(train):
                valid_refs = [ray.put(s) for s in _split(data.X_valid, data.y_valid, vparts)]
        data.log(f"[training] data parallel over {len(train)} Ray instances "
                 f"({', '.join(str(len(p)) for p in parts)} rows)")
        if framework == "xgboost":
            return _xgboost(ray, cpus, params, train, valid_refs, rounds, early)
        return _lightgbm(ray, cpus, params, train, valid_refs, rounds, early)
    finally:
        ray.shutdown()


def _xgboost(ray: Any, cpus: int, params: dict[str, Any], train: list[Any],
             valid: list[Any], rounds: int, early: int | None
             ) -> tuple[Any, dict[str, Any], int | None]:
    import xgboost as xgb
    from xgboost.tracker import RabitTracker

    tracker = RabitTracker(host_ip=ray.util.get_node_ip_address(), n_workers=len(train))
    tracker.start()
    args = tracker.worker_args()
    params = {**params, "nthread": cpus}
    actor = ray.remote(_XGBoostWorker).options(num_cpus=cpus)
    workers = [actor.remote() for _ in train]
    results = ray.get([w.train.remote(args, params, t, v, rounds, early)
                       for w, t, v in zip(workers, train, valid, strict=True)])
    tracker.wait_for()
    raw, history, best = results[0]
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster, history, best


def _lightgbm(ray: Any, cpus: int, params: dict[str, Any], train: list[Any],
              valid: list[Any], rounds: int, early: int | None
              ) -> tuple[Any, dict[str, Any], int | None]:
    import lightgbm as lgb

    params = {**params, "num_threads": cpus}
    actor = ray.remote(_LightGBMWorker).options(num_cpus=cpus)
    workers = [actor.remote() for _ in train]
    machines = ",".join(ray.get([w.listen.remote() for w in workers]))
    results = ray.get([w.train.remote(machines, params, t, v, rounds, early)
                       for w, t, v in zip(workers, train, valid, strict=True)])
    model, history, best = results[0]
    return lgb.Booster(model_str=model), history, best
