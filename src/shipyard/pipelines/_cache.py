"""Step caching: the same step on the same inputs reuses the earlier output.

The key of a job step is the SHA-256 of its kind and its job spec with references
resolved, where each input dataset is replaced by the content hash of its version
and each model (``model``: a registered version; ``job``: a job's model) by the
SHA-256 of its files. So a new dataset version with the same bytes still hits, and a
changed one misses, whatever it is called. The job's name, tags and notes are left
out: they do not change what it computes. The key also holds the pipeline's and the
step's names, so a hit is always the same step of an earlier execution.
"""

from __future__ import annotations

from typing import Any

from shipyard.datasets import parse_ref
from shipyard.errors import ShipyardError
from shipyard.pipelines._steps import EngineServices
from shipyard.store import canonical_hash

_IGNORED = frozenset({"name", "tags", "notes", "kind"})


def cache_key(pipeline: str, step: str, step_type: str, spec: dict[str, Any],
              services: EngineServices) -> str | None:
    """The cache key of a job step about to run, or None when an input cannot be pinned
    (the job's own submit then says what is wrong). The pipeline and step are part of it:
    a hit means *this step* already ran on these inputs."""
    pinned: dict[str, Any] = {k: v for k, v in spec.items() if k not in _IGNORED}
    try:
        inputs = {}
        for channel, ref in sorted((spec.get("inputs") or {}).items()):
            name, version = parse_ref(str(ref))
            inputs[channel] = services.datasets.version(name, version).content_hash
        pinned["inputs"] = inputs
        model = spec.get("model")
        if isinstance(model, str) and model:
            group, _, number = model.rpartition(":")
            rec = services.registry.get(group, int(number))
            pinned["model"] = sorted(f["sha256"] for f in (rec.bundle or {}).get("files") or [])
        job = spec.get("job")
        if isinstance(job, str) and job:
            made = services.registry.model_job(job)
            files = ((made.outputs or {}).get("model") or {}).get("files") or []
            pinned["job"] = sorted(f["sha256"] for f in files)
    except (ShipyardError, ValueError):
        return None
    return canonical_hash({"pipeline": pipeline, "step": step, "type": step_type,
                           "spec": pinned})


def outputs_intact(outputs: dict[str, Any], job_id: str | None,
                   services: EngineServices) -> bool:
    """Whether the dataset versions a cached step wrote are still those it wrote.

    A hit hands its ``outputs`` (``NAME:VERSION``) to the steps after it. When a version
    was deleted since, or its dataset deleted and made again (so the same number now holds
    other rows, written by another job), reusing it would fail every later step or, worse,
    feed them someone else's data: the step runs again instead.
    """
    for ref in (outputs.get("outputs") or {}).values():
        try:
            name, version = parse_ref(str(ref))
            rec = services.datasets.version(name, version)
        except (ShipyardError, ValueError):
            return False
        if job_id is not None and (rec.source or {}).get("job_id") != job_id:
            return False
    return True
