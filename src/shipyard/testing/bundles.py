"""A small valid model bundle written by hand, for tests whose job is not a training job.

A script job's model is registered only when it is a real bundle (the registry runs
the load checks), so tests that register "a model" from a script call
:func:`write_handmade_bundle` inside the job::

    from shipyard import runtime
    from shipyard.testing.bundles import write_handmade_bundle
    write_handmade_bundle(runtime.model_dir())

It fits a logistic regression on four rows (one numeric column ``x``, classes
``no``/``yes``) through an empty recipe and writes it with
:func:`shipyard.bundle.write_bundle`, so it loads and serves like any bundle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: A model file that passes every check short of loading and then fails to load (an
#: xgboost file that is not one), for tests of a deploy or roll-over that fails.
UNLOADABLE_XGBOOST = b"{not really an xgboost model"


def write_handmade_bundle(model_dir: str | Path, *, algorithm: str = "hand-made",
                          extra: Mapping[str, bytes] | None = None,
                          unloadable: bool = False) -> dict[str, Any]:
    """Write a valid bundle into ``model_dir``; return its MODEL.json.

    Args:
        model_dir: the job's model folder (``runtime.model_dir()``).
        algorithm: recorded in MODEL.json.
        extra: more files for the bundle (relative path → bytes), listed like the rest.
        unloadable: write an xgboost bundle whose model file cannot be loaded (it passes
            registration and fails at deploy, as a corrupt native file would).
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from shipyard.bundle import get_framework, output_schema, write_bundle
    from shipyard.features import Recipe

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "label": ["no", "no", "yes", "yes"]})
    fitted = Recipe(steps=()).fit(frame, target="label")
    framework = get_framework("xgboost" if unloadable else "scikit-learn")
    if unloadable:
        model_bytes = UNLOADABLE_XGBOOST
    else:
        features = fitted.transform(frame.drop(columns="label")).to_numpy(dtype="float64")
        model = LogisticRegression().fit(features, (frame["label"] == "yes").astype(int))
        model_bytes = framework.dumps(model)
    model_file = f"model{framework.extension}"
    classes = ["no", "yes"]
    manifest = {
        "task": "classification", "problem_type": "binary", "algorithm": algorithm,
        "framework": {"name": framework.name, "version": "handmade"}, "target": "label",
        "classes": classes, "input_signature": fitted.input_signature,
        "feature_names": fitted.feature_names,
        "output_schema": output_schema("classification", classes),
        "recipe": "recipe.json", "model_files": [model_file],
    }
    files = {"recipe.json": json.dumps(fitted.to_dict()).encode(), model_file: model_bytes,
             **dict(extra or {})}
    return write_bundle(Path(model_dir), manifest=manifest, files=files)
