"""``shipyard tokens`` (admin) and ``shipyard whoami``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import (
    JsonOpt,
    client,
    out,
    output_mode,
    print_deleted,
    print_json,
    print_table,
    quiet_option,
    say,
    when,
)

app = typer.Typer(help="API tokens (admin): create, list, revoke, reset-admin.",
                  no_args_is_help=True)


@app.command("create")
def create(
    role: Annotated[str, typer.Option(
        "--role", metavar="ROLE", help="admin, data-scientist, approver, viewer or annotator.")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="A name for the token.")],
    json_out: JsonOpt = False,
    quiet: Annotated[bool, quiet_option("the secret")] = False,
) -> None:
    """Create a token; its secret is printed this once and never again."""
    output_mode(json_out, quiet)
    doc = client().create_token(name, role)
    if quiet:
        say(doc["token"])
        return
    if json_out:
        print_json(doc)
        return
    out.print(f"Created token {doc['name']!r} with role {doc['role']!r}. "
              "Its secret is shown only this once:")
    out.print(doc["token"], soft_wrap=True)


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every token (never the secrets)."""
    docs = client().tokens()
    if json_out:
        print_json(docs)
        return
    print_table(["name", "role", "active", "created", "by", "revoked"],
                ([d.get("name"), d.get("role"), "yes" if d.get("active") else "no",
                  when(d.get("created_at")), d.get("created_by"), when(d.get("revoked_at"))]
                 for d in docs))


@app.command("revoke")
def revoke(name: str, json_out: JsonOpt = False) -> None:
    """Revoke a token; requests with it are refused from then on (the last admin cannot be)."""
    doc = client().revoke_token(name)
    if json_out:
        print_json(doc)
    else:
        print_deleted(doc)


@app.command("reset-admin")
def reset_admin(
    home: Annotated[Path | None, typer.Option(
        "--home", metavar="DIR",
        help="The server's home folder [$SHIPYARD_HOME or ~/.shipyard].")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Write a new admin token to the home's credentials file (when the old one is lost).

    Needs no server and no token: run it as the OS user who owns the home. The admin
    token the credentials file names gets a new secret; other admin tokens are kept.
    """
    from shipyard.settings import Settings
    from shipyard.tokens import CACHE_SECONDS
    from shipyard.tokens import reset_admin as reset

    settings = Settings.from_env(home=home)
    rec = reset(settings)
    path = settings.credentials_path
    if json_out:
        print_json({"name": rec.name, "role": rec.role, "credentials": str(path)})
        return
    out.print(f"Wrote a new secret for admin token {rec.name!r} to {path}; the old secret no "
              f"longer works (a running server may accept it for up to {CACHE_SECONDS:g} s).",
              soft_wrap=True)


def whoami(json_out: JsonOpt = False) -> None:
    """The name and role of the token in use, and the server it talks to."""
    c = client()
    doc = {**c.whoami(), "url": c.url}
    if json_out:
        print_json(doc)
    else:
        out.print(f"{doc['name']} ({doc['role']}) at {c.url}")
