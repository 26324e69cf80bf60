"""Tuning: hyperparameter studies whose trials are training jobs (docs/tuning.md).

Service layer. A tuning job is a *driven* job kind (``jobs/kinds/tuning.py``): it runs
no process; the supervisor calls :func:`drive` on every tick, which submits trials
(ordinary ``training`` jobs carrying the tuning job's id) through the job service, P at
a time, and ends the study. Its pieces:

* :mod:`~shipyard.tuning._space`: the search space from the algorithm's declared
  hyperparameters and ``--range`` (pure; a bad name or range is an InvalidRequest);
* :mod:`~shipyard.tuning._study`: Optuna's samplers over a study rebuilt from the
  stored trials (no Optuna storage: the trial jobs are the study);
* :mod:`~shipyard.tuning._pruning`: Hyperband on running trials' live losses (the
  AutoML search's boosting candidates too);
* :mod:`~shipyard.tuning._driver`: one step of a study, every decision derived from the
  metadata store, so a control-plane restart loses no trial and runs none twice.
"""

from __future__ import annotations

from pathlib import Path

from shipyard.tuning._driver import SCORING, drive
from shipyard.tuning._space import (
    Dimension,
    SearchSpace,
    build_space,
    parse_range,
    study_space,
)
from shipyard.tuning._study import LOWER_IS_BETTER, OBJECTIVES, STRATEGIES, direction

__all__ = ["LOWER_IS_BETTER", "OBJECTIVES", "SCORING", "STRATEGIES", "Dimension",
           "SearchSpace", "build_space", "direction", "drive", "main", "parse_range",
           "study_space"]


def main(job_dir: Path) -> int:
    """The kind's declared entry, never launched: a tuning job runs in the control plane."""
    print("A tuning job runs in the control plane's supervisor, not as a process.", flush=True)
    return 2
