"""AutoML (issue 14; the plan is docs/automl.md). What is built so far:

- :func:`select`: Caruana's greedy ensemble selection over held-out (validation-split)
  or out-of-fold predictions (``_ensemble.py``);
- :func:`build_ensemble`: select over candidates' kept validation predictions
  (``TrainingContext.save_predictions``) and write the chosen ones as an ensemble bundle
  (:func:`shipyard.bundle.write_ensemble`), which loads and serves like any bundle.

The AutoML job kind, its driver, portfolio, budget and notebooks are not built yet.
"""

from __future__ import annotations

from shipyard.automl._ensemble import (
    PATIENCE,
    ROUNDS,
    Selection,
    build_ensemble,
    loss_function,
    select,
)

__all__ = ["PATIENCE", "ROUNDS", "Selection", "build_ensemble", "loss_function", "select"]
