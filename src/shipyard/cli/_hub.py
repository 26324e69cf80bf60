"""``shipyard hub``: the hub of pre-trained models (list, show, deploy, fine-tune)."""

from __future__ import annotations

import typer

app = typer.Typer(help="The hub: pre-trained models available offline; list, show, deploy "
                       "or fine-tune them.", no_args_is_help=True)
