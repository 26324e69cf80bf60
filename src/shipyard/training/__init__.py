"""Training: the built-in algorithms and the in-job training entry.

Runtime layer: it knows the job runtime contract and the cores (features,
evaluation, bundle), never the server. The jobs service calls
:func:`check_training_data` and :func:`validate_hyperparameters` at submit time;
the runtime calls :func:`main` for a job of kind ``training``; tests and
notebooks call :func:`run_training` directly::

    from shipyard.training import TrainingContext, run_training
    result = run_training(TrainingContext(train=df, algorithm="xgboost", target="churn",
                                          model_dir=Path("model")))
    result.metrics["test"]["roc_auc"]
"""

from __future__ import annotations

from shipyard.training import (  # noqa: F401 - register the built-ins
    _boosting,
    _forecast,
    _image_cnn,
    _sklearn,
    _text,
    _text_bert,
)
from shipyard.training._algorithms import (
    ALGORITHMS,
    PROBLEM_TYPES,
    Algorithm,
    AlgorithmInfo,
    FitData,
    FitResult,
    get_algorithm,
    task_of,
    validate_hyperparameters,
)
from shipyard.training._entry import TrainingContext, TrainingResult, main, run_training
from shipyard.training._forecast import check_forecast_request
from shipyard.training._hyperparameters import Hyperparameter
from shipyard.training._problem import (
    check_objective,
    check_training_data,
    infer_problem_type,
)
from shipyard.training._submit import check_held_out_inputs, check_training_columns

__all__ = [
    "ALGORITHMS", "PROBLEM_TYPES", "Algorithm", "AlgorithmInfo", "FitData", "FitResult",
    "Hyperparameter", "TrainingContext", "TrainingResult", "check_forecast_request",
    "check_held_out_inputs",
    "check_objective",
    "check_training_columns",
    "check_training_data",
    "get_algorithm", "infer_problem_type", "main", "run_training", "task_of",
    "validate_hyperparameters",
]
