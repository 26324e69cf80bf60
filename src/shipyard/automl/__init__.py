"""AutoML (issue 14; docs/automl.md): a table and a target in, a ranked, deployable model out.

Service layer. An AutoML job is a *driven* job kind (``jobs/kinds/automl.py``): it runs
no process; the supervisor calls :func:`drive` on every tick, which submits candidates
(ordinary ``training`` jobs carrying the AutoML job's id, keeping their validation
predictions) through the job service, P at a time, within the time budget, then one
``ensemble`` job (``jobs/kinds/ensemble.py``) that makes the final model. Its pieces:

- :mod:`~shipyard.automl._portfolio`: the first candidates, cheapest first;
- :mod:`~shipyard.automl._driver`: one step of a job, every decision derived from the
  metadata store (the budget, the portfolio, then the tuning sampler, the final job);
- :mod:`~shipyard.automl._ensemble`: Caruana's greedy selection (:func:`select`) and
  :func:`build_ensemble` over kept predictions;
- :mod:`~shipyard.automl._final`: the ``ensemble`` job's entry: select, write the bundle,
  score it on test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.automl._driver import drive
    from shipyard.automl._ensemble import (
        PATIENCE,
        ROUNDS,
        Selection,
        build_ensemble,
        loss_function,
        select,
    )
    from shipyard.automl._portfolio import DEFAULT_ALGORITHMS, portfolio

__all__ = ["DEFAULT_ALGORITHMS", "PATIENCE", "ROUNDS", "Selection", "build_ensemble", "drive",
           "loss_function", "main", "portfolio", "select"]

#: Where each public name lives. Imported when first used: the ensemble job's entry
#: (``shipyard.automl._final``) runs in a job process, which must not import the driver
#: (it needs the job service) by importing this package.
_HOMES = {"drive": "_driver", "DEFAULT_ALGORITHMS": "_portfolio", "portfolio": "_portfolio",
          **dict.fromkeys(("PATIENCE", "ROUNDS", "Selection", "build_ensemble",
                           "loss_function", "select"), "_ensemble")}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _HOMES:
        return getattr(importlib.import_module(f"shipyard.automl.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'shipyard.automl' has no attribute {name!r}")


def main(job_dir: Path) -> int:
    """The kind's declared entry, never launched: an AutoML job runs in the control plane."""
    print("An AutoML job runs in the control plane's supervisor, not as a process.",
          flush=True)
    return 2
