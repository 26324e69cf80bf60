"""``shipyard tokens`` (admin) and ``shipyard whoami``."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import JsonOpt, client, out, print_json, print_table, when

app = typer.Typer(help="API tokens (admin): create, list, revoke.", no_args_is_help=True)


@app.command("create")
def create(
    role: Annotated[str, typer.Option(
        "--role", metavar="ROLE", help="admin, data-scientist, approver or viewer.")],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="A name for the token.")],
    json_out: JsonOpt = False,
) -> None:
    """Create a token; its secret is printed this once and never again."""
    doc = client().create_token(name, role)
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
    """Revoke a token; requests with it are refused from then on."""
    doc = client().revoke_token(name)
    if json_out:
        print_json(doc)
    else:
        out.print(f"Revoked token {name!r}.")


def whoami(json_out: JsonOpt = False) -> None:
    """The name and role of the token in use, and the server it talks to."""
    c = client()
    doc = {**c.whoami(), "url": c.url}
    if json_out:
        print_json(doc)
    else:
        out.print(f"{doc['name']} ({doc['role']}) at {c.url}")
