"""Kind ``script``: the user's own script (script mode), e.g. training code of their own."""

from __future__ import annotations

from typing import Literal

from shipyard.jobs._kinds import JobKind, register
from shipyard.jobs._spec import JobSpecBase, ScriptFields
from shipyard.jobs.kinds._common import SCRIPT_ENTRY, script_file, store_script


class ScriptJobSpec(ScriptFields, JobSpecBase):
    """A script job: what the script saves in ``model/`` becomes the job's model."""

    kind: Literal["script"]


register(JobKind(
    name="script", spec=ScriptJobSpec,
    summary="Your own script under the runtime contract; what it saves in model/ is kept.",
    entry=SCRIPT_ENTRY, check=store_script, stage=script_file,
))
