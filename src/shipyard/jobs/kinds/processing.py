"""Kind ``processing``: the user's script reads input datasets and writes output datasets."""

from __future__ import annotations

from typing import Literal

from shipyard.jobs._kinds import JobKind, register
from shipyard.jobs._spec import JobSpecBase, ScriptFields
from shipyard.jobs.kinds._common import SCRIPT_ENTRY, script_file, store_script


class ProcessingSpec(ScriptFields, JobSpecBase):
    """A processing job: ``script`` (and optionally ``requirements``) over its inputs."""

    kind: Literal["processing"]


register(JobKind(
    name="processing", spec=ProcessingSpec,
    summary="Your script reads input datasets and writes output datasets (new versions).",
    entry=SCRIPT_ENTRY, check=store_script, stage=script_file,
))
