"""Kind ``script``: the user's own script (script mode), e.g. training code of their own."""

from __future__ import annotations

from typing import Any, Literal

from shipyard.jobs._kinds import JobKind, SubmitContext, register
from shipyard.jobs._spec import JobSpecBase, ScriptFields
from shipyard.jobs.kinds._common import SCRIPT_ENTRY, script_file, store_script
from shipyard.jobs.kinds.training import TrialOf, check_trial


class ScriptJobSpec(ScriptFields, JobSpecBase):
    """A script job: what the script saves in ``model/`` becomes the job's model."""

    kind: Literal["script"]
    #: Set on the trials of a tuning job over a script (docs/tuning.md).
    tuning: TrialOf | None = None


def check(ctx: SubmitContext[Any]) -> None:
    """Keep the script (and requirements) as blobs; a trial must be its study's own."""
    if ctx.spec.tuning is not None:
        check_trial(ctx, ctx.spec.tuning)
    store_script(ctx)


register(JobKind(
    name="script", spec=ScriptJobSpec,
    summary="Your own script under the runtime contract; what it saves in model/ is kept.",
    entry=SCRIPT_ENTRY, check=check, stage=script_file,
))
