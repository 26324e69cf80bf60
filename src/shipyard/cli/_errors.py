"""The CLI's error printer speaks in flags: ``--allow-unapproved``, not ``allow_unapproved``.

The server and the SDK word their errors in the API's field names, because that is
what an API caller sends. A person at the terminal typed flags, so before a message
is printed the fields the running command maps to flags are renamed. Only fields
written as identifiers are renamed (``allow_unapproved``, ``'time_column'``), never
plain words, so a sentence keeps its meaning. ``tests/cli/test_flags.py`` checks that
every flag named here is an option of its command.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

_AUTOSCALING = {
    "min_instances": "--min-instances", "max_instances": "--max-instances",
    "target_concurrency": "--target-concurrency", "cooldown_seconds": "--cooldown",
}
_ENDPOINT = {
    "allow_unapproved": "--allow-unapproved", "capture_percent": "--capture-percent",
    "unseen_categories": "--unseen-categories", **_AUTOSCALING,
}
_TRAINING = {
    "time_column": "--time-column", "split_method": "--split-method",
    "problem_type": "--problem-type", "max_runtime_seconds": "--max-runtime",
    "keep_columns": "--keep-column", "chunk_rows": "--chunk-rows",
    "instances": "--instances",
    "metric_definitions": "--metric-definition", "hyperparameters": "--hp",
}

#: Command (``resource verb``) → API field → the flag that sets it.
FLAGS: dict[str, dict[str, str]] = {
    "automl": {"time_budget": "--time-budget", "cv_folds": "--cv-folds",
               "sample_rows": "--sample-rows", "problem_type": "--problem-type"},
    "endpoints create": _ENDPOINT,
    "endpoints update": _ENDPOINT,
    "jobs run": _TRAINING,
    "monitors ground-truth": {"label_column": "--label-column"},
}

#: Options of the root command that take a value (skipped when finding the command).
_ROOT_OPTIONS = ("--url", "--token")


def command_of(argv: Sequence[str]) -> str | None:
    """``"endpoints create"`` from the command line's arguments (None: not a known command)."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in _ROOT_OPTIONS:
            skip = True
            continue
        if arg.startswith("-"):
            if words:
                break
            continue
        words.append(arg)
        if len(words) == 2:
            break
    name = " ".join(words)
    return name if name in FLAGS else None


def in_flags(message: str, command: str | None,
             table: Mapping[str, Mapping[str, str]] = FLAGS) -> str:
    """``message`` with the API fields ``command`` maps written as its flags."""
    fields = table.get(command or "", {})
    for field in sorted(fields, key=len, reverse=True):
        # The field as a whole identifier, bare or quoted: not part of a longer name.
        pattern = re.compile(rf"(['\"`]?)(?<![\w.-]){re.escape(field)}(?![\w-])\1")
        message = pattern.sub(fields[field], message)
    return message
