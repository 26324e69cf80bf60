"""Markdown a user wrote (a model card), rendered inert.

CommonMark with raw HTML off: a ``<script>`` in a card is shown as text, and the
renderer's link check drops ``javascript:``, ``vbscript:``, ``file:`` and ``data:``
links (markdown-it-py's ``validateLink``). Tables are on, as cards use them.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}
                 ).enable("table")


def render_markdown(text: str) -> str:
    """HTML for ``text`` with no HTML of its own and no script-bearing links."""
    return _MD.render(text)
