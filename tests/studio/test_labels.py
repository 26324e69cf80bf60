"""Every form field in every studio template has a name a screen reader can say.

The browser test (test_keyboard.py) checks the pages it can reach with data; this one reads
the templates themselves, so a field on a page no test opens (a Canvas build's what-if
form, a new template) is caught too.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

FIELD = re.compile(r"<(input|select|textarea)\b[^>]*>", re.S)


def _templates() -> list[tuple[str, str]]:
    root = resources.files("shipyard.studio").joinpath("templates")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        children = sorted(entry.iterdir(), key=lambda e: e.name) if entry.is_dir() else [entry]
        out += [(f"{entry.name}/{c.name}" if entry.is_dir() else c.name, c.read_text())
                for c in children if c.name.endswith(".html")]
    return out


def _named(text: str, match: re.Match[str]) -> bool:
    """A field is named by aria-label(ledby), a <label for> its id, or a <label> around it."""
    tag = match.group(0)
    if re.search(r'\btype="hidden"', tag) or re.search(r"\baria-label(ledby)?=", tag):
        return True
    found = re.search(r'\bid="([^"]+)"', tag)
    if found and f'for="{found.group(1)}"' in text:
        return True
    before = text[:match.start()]
    opened, closed = before.rfind("<label"), before.rfind("</label>")
    return opened > closed and "for=" not in before[opened:].split(">", 1)[0]


@pytest.mark.parametrize(("name", "text"), _templates(), ids=[n for n, _ in _templates()])
def test_every_field_has_a_label(name: str, text: str) -> None:
    unnamed = [m.group(0) for m in FIELD.finditer(text) if not _named(text, m)]
    assert not unnamed, f"{name}: fields without a label or aria-label: {unnamed}"


def test_the_check_finds_an_unnamed_field() -> None:
    text = '<p>Name <input id="n" name="n"></p><label for="m">M</label><input id="m">'
    results = [_named(text, m) for m in FIELD.finditer(text)]
    assert results == [False, True]
