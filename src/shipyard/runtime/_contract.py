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
#: What the bootstrap needs to run the job: id, kind, entry ("module:function"), attempt,
#: script filename (script mode), outputs, metric definitions. A job kind writes its own
#: settings beside it (``input/config/<name>.json``); this module knows no kind.
JOB_FILE = "input/config/job.json"
INPUT_DATA_DIR = "input/data"
#: A model bundle a job kind staged (its files checked against their SHA-256).
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
#: Touched by the runtime every :data:`HEARTBEAT_SECONDS` while the job runs.
HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_SECONDS = 2.0
#: The bootstrap's exit code, written as it returns (read when the process that ran the
#: job is no longer the executor's child, e.g. after a control-plane restart).
EXIT_FILE = "exit_code"
#: The start gate: a gated job (``"gated": true`` in ``job.json``) runs no code of its own
#: until the control plane writes its attempt number here, which it does only once the
#: attempt is recorded as Running. A control plane that dies before that record finds the
#: process on restart and ends it, and the retry is the only run of the job's code; one
#: that dies after it admits the process again when it restarts (docs/architecture.md,
#: "Recovery").
ADMITTED_FILE = "admitted"
#: How long a gated job waits to be admitted before it gives up (the control plane that
#: started it is gone and did not come back).
ADMIT_TIMEOUT_SECONDS = 300.0

ENV_JOB_ID = "SHIPYARD_JOB_ID"
ENV_JOB_DIR = "SHIPYARD_JOB_DIR"
ENV_MODEL_DIR = "SHIPYARD_MODEL_DIR"
ENV_OUTPUT_DIR = "SHIPYARD_OUTPUT_DIR"
ENV_NUM_CPUS = "SHIPYARD_NUM_CPUS"
#: On the Ray executor: the names of the actors its kind asked for beside the job
#: (``JobKind.helpers``), comma-separated.
ENV_RAY_HELPERS = "SHIPYARD_RAY_HELPERS"
ENV_CHANNEL_PREFIX = "SHIPYARD_CHANNEL_"
ENV_OUTPUT_DATA_PREFIX = "SHIPYARD_OUTPUT_DATA_"
ENV_HP_PREFIX = "SHIPYARD_HP_"
#: The attempt's own token and the server's URL (the SDK's own variables, which it reads
#: inside a job too: it reads its own job with them).
TOKEN_VARIABLE = "SHIPYARD_TOKEN"  # noqa: S105 - the name, not a secret
URL_VARIABLE = "SHIPYARD_URL"
#: Thread pools of BLAS/OpenMP libraries are sized to the job's CPUs.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Reasons the job itself can report in ``output/failure``.
SCRIPT_ERROR = "script_error"
MEMORY_LIMIT = "memory_limit"
#: A built-in entry found its input unusable (the data or settings it was given).
INPUT_ERROR = "input_error"
#: The job's entry point could not be imported (a plug-in missing where the job runs).
ENVIRONMENT_ERROR = "environment_error"

_NOT_ENV = re.compile(r"[^A-Z0-9_]")


def env_suffix(name: str) -> str:
    """The part of a variable name made from a channel, output or hyperparameter name."""
    return _NOT_ENV.sub("_", name.upper())
