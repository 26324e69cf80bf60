"""``shipyard studio``: the studio's URL with a one-time sign-in link, opened in a browser."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from shipyard.cli._common import JsonOpt, client, out, print_json


def studio(
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Print the link only; do not open a browser.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the studio's URL and a one-time sign-in link (good once, for 5 minutes), and
    open it in a browser where one exists."""
    c = client()
    link = c.studio_link()
    url = c.url.rstrip("/") + link["path"]
    if json_out:
        print_json({"url": c.url.rstrip("/") + "/studio", "login_url": url,
                    "expires_at": link["expires_at"]})
        return
    out.print(f"Studio: {c.url.rstrip('/')}/studio")
    out.print(f"One-time sign-in link (5 minutes): {url}", soft_wrap=True)
    if not no_browser:
        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if opened:
            out.print("Opened in your browser.")
