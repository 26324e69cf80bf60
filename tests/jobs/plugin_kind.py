"""A job kind defined only in the test suite: kinds are plug-ins, nothing under jobs/ knows it.

The server imports it through ``SHIPYARD_PLUGINS=plugin_kind`` (with this folder on
its ``PYTHONPATH``); the job process imports it again to run :func:`main`, the
entry the kind names. It writes ``repeat`` rows of ``message`` to its one output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.errors import InvalidRequest
from shipyard.jobs import JobKind, JobSpecBase, SubmitContext, register

KIND = "echo-test"
CONFIG_NAME = "echo.json"


class EchoSpec(JobSpecBase):
    kind: Literal["echo-test"]
    message: str = Field(min_length=1, max_length=200)
    repeat: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _one_output(self) -> EchoSpec:
        if len(self.outputs) != 1:
            raise ValueError(f"an echo-test job writes exactly one output; got {len(self.outputs)}")
        return self


def check(ctx: SubmitContext[EchoSpec]) -> None:
    """A submit-time check that needs the services: the output must not exist yet."""
    if ctx.spec.message.strip().lower() == "forbidden":
        raise InvalidRequest("message: 'forbidden' is refused at submit by the echo-test kind.")
    ctx.stored["checked_by"] = KIND


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"message": stored["message"], "repeat": stored["repeat"],
                          "output": stored["outputs"][0]}}


def main(job_dir: Path) -> int:
    import pandas as pd

    from shipyard import runtime

    config = json.loads((job_dir / "input" / "config" / CONFIG_NAME).read_text())
    print(f"echo: {config['message']} x{config['repeat']}", flush=True)
    runtime.log_metric("repeat", config["repeat"])
    frame = pd.DataFrame({"i": range(config["repeat"]),
                          "message": [config["message"]] * config["repeat"]})
    runtime.write_output(frame, config["output"])
    return 0


register(JobKind(name=KIND, spec=EchoSpec, summary="Test plug-in: echo a message into a dataset.",
                 entry=f"{__name__}:main", check=check, configs=configs))
