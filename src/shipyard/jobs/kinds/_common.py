"""What several kinds share at submit and staging: storing a script, pinning a model.

Submit time runs in the control plane (a :class:`SubmitContext` gives the services);
staging helpers only read the stored spec and name artifact-store keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import InvalidRequest
from shipyard.jobs._kinds import SubmitContext
from shipyard.jobs._package import StagedFile
from shipyard.jobs._spec import parse_model_ref
from shipyard.runtime import _contract as c

#: The most instances one job may spread over (``instances``).
MAX_INSTANCES = 64
#: The entry of every kind that runs the user's own script.
SCRIPT_ENTRY = "shipyard.runtime._script:main"


def store_script(ctx: SubmitContext[Any]) -> None:
    """Keep the script and the requirements as blobs; the stored spec names them by SHA-256."""
    spec = ctx.spec
    blob = ctx.artifacts.put_bytes(spec.script.source.encode())
    ctx.stored["script"] = {"filename": spec.script.filename, "sha256": blob.sha256,
                            "size": blob.size}
    ctx.stored["requirements"] = None
    if spec.requirements:
        req = ctx.artifacts.put_bytes(spec.requirements.encode())
        ctx.stored["requirements"] = {"sha256": req.sha256, "size": req.size}


def script_file(stored: Mapping[str, Any]) -> list[StagedFile]:
    """The script, staged as ``code/<filename>``."""
    script = stored["script"]
    return [StagedFile(f"{c.CODE_DIR}/{script['filename']}", script["sha256"],
                       int(script["size"]), "The job's script")]


def pin_model(ctx: SubmitContext[Any]) -> None:
    """Name the model version and every file of its bundle by SHA-256 in the stored spec.

    The executor then needs no registry, and a retry runs the very same bundle.

    Raises:
        NotFound: no such model version. InvalidRequest: its bundle has no MODEL.json.
    """
    group, number = parse_model_ref(ctx.spec.model or "")
    version = ctx.models.get(group, number)  # NotFound → 404
    files = (version.bundle or {}).get("files") or []
    if not any(f.get("path") == "MODEL.json" for f in files):
        raise InvalidRequest(f"Model {group}:{number} has no MODEL.json in its bundle; "
                             f"only a bundle of a built-in training job can run a "
                             f"{ctx.spec.kind} job.")
    ctx.stored["model"] = {"group": group, "version": number,
                           "files": [{"path": f["path"], "sha256": f["sha256"],
                                      "size": f["size"]} for f in files]}


def model_ref(stored: Mapping[str, Any]) -> str:
    model = stored["model"]
    return f"{model['group']}:{model['version']}"


def model_files(stored: Mapping[str, Any]) -> list[StagedFile]:
    """The pinned bundle's files, staged under ``input/model/`` (paths checked at staging)."""
    model = stored["model"]
    what = f"Model {model_ref(stored)}"
    return [StagedFile(f"{c.INPUT_MODEL_DIR}/{f['path']}", f["sha256"], int(f["size"]), what)
            for f in model["files"]]


def check_instances(ctx: SubmitContext[Any], what: str) -> None:
    """``instances`` > 1 needs the Ray executor: refused at submit (400) elsewhere."""
    instances = int(ctx.stored.get("instances") or 1)
    executor = ctx.settings.executor if ctx.settings is not None else "local"
    if instances > 1 and executor != "ray":
        raise InvalidRequest(
            f"instances={instances}: {what} spreads over several instances only on the Ray "
            f"executor (SHIPYARD_EXECUTOR=ray), and this server runs jobs on {executor!r}; "
            "use instances=1.")
