"""A hub model as a model bundle, so it registers and serves like any trained model.

``hub deploy`` runs :func:`write_hub_bundle` inside a job (``python -m
shipyard.hub._bundle NAME TASK``, a script job's one line): the job's ``model/`` becomes
a bundle of the encoder's own files (safetensors, config, tokenizer, pooling), its
SHA-256 in MODEL.json, and a ``model.json`` whose head says what the endpoint answers:

* ``embedding``: rows ``{"text": ...}`` → the 384-d unit vector, as the
  ``dimensionality_reduction`` task's ``component.1..384`` columns;
* ``similarity``: rows ``{"text_a": ..., "text_b": ...}`` → their cosine, a
  ``regression``-shaped number in [-1, 1].

Nothing is trained and nothing is downloaded: the files are copied from the package.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

import shipyard
from shipyard.errors import InvalidRequest
from shipyard.hub._catalog import get_model, model_dir

#: Task of a hub deploy → (bundle task, the text columns its rows hold).
HUB_TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "embedding": ("dimensionality_reduction", ("text",)),
    "similarity": ("regression", ("text_a", "text_b")),
}


def check_task(name: str, task: str) -> None:
    """Refuse a task the hub model cannot serve (naming the ones it can)."""
    model = get_model(name)
    if model.task != "sentence-embedding" or task not in HUB_TASKS:
        raise InvalidRequest(f"Hub model {name!r} ({model.task}) serves the tasks "
                             f"{sorted(HUB_TASKS)}; got {task!r}. Pass --task embedding or "
                             "--task similarity.")


def write_hub_bundle(name: str, task: str, dest: Path, max_seq_length: int = 256) -> dict[str, Any]:
    """Write hub model ``name`` as a bundle serving ``task`` into ``dest``; return MODEL.json."""
    from shipyard.bundle import write_bundle
    from shipyard.bundle._sentence import SentenceFramework, SentenceModel, TextEncoder
    from shipyard.features import Recipe, StepSpec

    check_task(name, task)
    bundle_task, columns = HUB_TASKS[task]
    hub = get_model(name)
    encoder = TextEncoder(model_dir(name), min(max_seq_length, hub.max_tokens or 256))
    model = SentenceModel(encoder=encoder, text_column=columns[0], tabular=[],
                          head_kind=task, head=None,
                          second_text_column=columns[1] if len(columns) > 1 else None)
    example = pd.DataFrame({c: ["An example sentence.", "Another one."] for c in columns})
    fitted = Recipe((StepSpec("raw_text", columns),)).fit(example)
    framework = SentenceFramework()
    dims = encoder.dimensions
    files: dict[str, bytes | Path] = {
        "recipe.json": json.dumps(fitted.to_dict(), indent=2).encode("utf-8"),
        "model.json": framework.dumps(model), **framework.extra_files(model)}
    outputs = ([{"name": f"component.{i + 1}", "dtype": "float64"} for i in range(dims)]
               if task == "embedding" else [{"name": "prediction", "dtype": "float64"}])
    manifest = {
        "task": bundle_task, "problem_type": bundle_task, "algorithm": f"hub:{name}",
        "framework": {"name": framework.name, "version": framework.version()},
        "shipyard_version": shipyard.__version__, "target": None, "classes": None,
        "input_signature": fitted.input_signature, "feature_names": fitted.feature_names,
        "output_schema": outputs, "recipe": "recipe.json", "model_files": ["model.json"],
        "hyperparameters": {"task": task, "max_seq_length": encoder.max_seq_length},
        "metrics": {}, "baseline": {},
        "training": {"notes": [f"hub model {name} served as published ({task}); not "
                               "trained here"], "warnings": []},
        "hub": {"name": name, "task": task, "source": hub.source, "licence": hub.licence},
        "lineage": {"hub": name}, "created_at": datetime.now(UTC).isoformat(),
    }
    return write_bundle(Path(dest), manifest=manifest, files=files)


def main(argv: list[str] | None = None) -> None:
    """``python -m shipyard.hub._bundle NAME TASK``: the bundle into the job's model/."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        raise SystemExit("usage: python -m shipyard.hub._bundle NAME TASK")
    dest = Path(os.environ.get("SHIPYARD_MODEL_DIR") or "model")
    written = write_hub_bundle(args[0], args[1], dest)
    print(f"[hub] {args[0]} ({args[1]}) written to {dest}: {len(written['files'])} files",
          flush=True)


if __name__ == "__main__":
    main()
