"""``shipyard hub``: pre-trained models and end-to-end solutions available offline."""

from __future__ import annotations

import typer

from shipyard.cli import _hub_solutions

app = typer.Typer(help="The hub: pre-trained models from installed packages, and one-command "
                       "solutions.", no_args_is_help=True)
_hub_solutions.register(app)
