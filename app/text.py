"""User-controlled text on a page: escaped in one place before any pane renders it.

Panel's Markdown and HTML panes, Tabulator ``html`` formatters and Bokeh ``{safe}`` tooltips
render HTML inside their text, so an object id such as ``<img src=x onerror=...>`` would run
its script. Every string that comes from a user or a file (object ids, file, column and band
names, labels, notes, user names, metadata) goes through :func:`markdown` before it is put into
Markdown, or :func:`html` before it is put into HTML.
"""

from __future__ import annotations

import html as _html
import re

from engine.text import printable

#: characters with a meaning in Markdown (links, emphasis, code, headings, tables, math)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$:])")


def html(text: object) -> str:
    """``text`` as inert HTML: control characters removed, ``& < > " '`` escaped."""
    return _html.escape(printable(text), quote=True)


def markdown(text: object) -> str:
    """``text`` as inert Markdown: :func:`html`, then every Markdown character backslashed."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html(text))
