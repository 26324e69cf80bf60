"""The job runtime contract: the layout of a job's working folder and its variables.

Both sides read this module: the executor that prepares a working folder and the
bootstrap that runs inside it. It imports only the standard library, so a job
starts fast, and it knows nothing of the server.
"""

from __future__ import annotations

import re

CONFIG_DIR = "input/config"
HYPERPARAMETERS_FILE = "input/config/hyperparameters.json"
RESOURCES_FILE = "input/config/resources.json"
INPUTDATA_FILE = "input/config/inputdata.json"
#: What the bootstrap needs to run the job: id, kind, script filename, outputs.
JOB_FILE = "input/config/job.json"
#: kind "training": algorithm, target, problem type, split and recipe (docs/training.md).
TRAINING_FILE = "input/config/training.json"
#: kind "transform": the model version, the input columns to keep and the chunk size.
TRANSFORM_FILE = "input/config/transform.json"
#: kind "wrangle": the query or recipe, the output, the catalog tables the query may read.
WRANGLE_FILE = "input/config/wrangle.json"
MONITORING_FILE = "input/config/monitoring.json"
INPUT_DATA_DIR = "input/data"
#: kind "transform": the registered model's bundle, its files checked against their SHA-256.
INPUT_MODEL_DIR = "input/model"
CODE_DIR = "code"
MODEL_DIR = "model"
OUTPUT_DIR = "output"
OUTPUT_DATA_DIR = "output/data"
METRICS_FILE = "output/metrics.jsonl"
#: First line: a failure reason; the rest: a message (a user script may write it too).
FAILURE_FILE = "output/failure"
CHECKPOINTS_DIR = "checkpoints"
LOG_FILE = "job.log"

ENV_JOB_ID = "SHIPYARD_JOB_ID"
ENV_JOB_DIR = "SHIPYARD_JOB_DIR"
ENV_MODEL_DIR = "SHIPYARD_MODEL_DIR"
ENV_OUTPUT_DIR = "SHIPYARD_OUTPUT_DIR"
ENV_NUM_CPUS = "SHIPYARD_NUM_CPUS"
ENV_CHANNEL_PREFIX = "SHIPYARD_CHANNEL_"
ENV_OUTPUT_DATA_PREFIX = "SHIPYARD_OUTPUT_DATA_"
ENV_HP_PREFIX = "SHIPYARD_HP_"
#: Thread pools of BLAS/OpenMP libraries are sized to the job's CPUs.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Reasons the job itself can report in ``output/failure``.
SCRIPT_ERROR = "script_error"
MEMORY_LIMIT = "memory_limit"
#: A built-in job found its input unusable (a training job's data or settings).
INPUT_ERROR = "input_error"

_NOT_ENV = re.compile(r"[^A-Z0-9_]")


def env_suffix(name: str) -> str:
    """The part of a variable name made from a channel, output or hyperparameter name."""
    return _NOT_ENV.sub("_", name.upper())
