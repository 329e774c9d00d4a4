"""User-controlled text on a page: escaped in one place before any pane renders it.

Panel's Markdown and HTML panes (and Alerts, which are Markdown), Tabulator column titles and
``html`` formatters, and Bokeh ``{safe}`` tooltips render HTML inside their text, so an object
id such as ``<img src=x onerror=...>`` would run its script. Every string that comes from a
user or a file (object ids, file, column and band names, labels, notes, user names, metadata,
error messages quoting them) goes through :func:`markdown` before it is put into Markdown, or
:func:`html` before it is put into HTML.
"""

from __future__ import annotations

import html as _html
import re

from engine.text import printable

#: ASCII punctuation with a meaning in Markdown or its plugins (links, emphasis, code,
#: headings, lists, tables, math, attributes); a backslash makes each one literal
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$:=])")
#: line breaks and tabs: inside a Markdown line they could start a block (heading, code, list)
_BREAKS = re.compile(r"[\t\r\n]+")


def html(text: object) -> str:
    """``text`` as inert HTML: control characters removed, ``& < > " '`` escaped."""
    return _html.escape(printable(text), quote=True)


def markdown(text: object) -> str:
    """``text`` as inert inline Markdown, shown exactly as written.

    Control characters are removed, line breaks become spaces, ``& < >`` become entities and
    every Markdown character is backslashed. Quotes stay as they are: they mean nothing in
    Markdown text, and their HTML entities (``&#x27;``) would be broken by the backslash before
    ``#`` and show as written.
    """
    escaped = _html.escape(_BREAKS.sub(" ", printable(text)), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def plot_title(text: object) -> str:
    """``text`` as a HoloViews title: control characters removed, braces doubled.

    HoloViews formats titles with :meth:`str.format` (``{label}``, ``{dimensions}``), so an
    id such as ``{{7*7}}`` raised ``KeyError`` and broke the page drawing it.
    """
    return printable(text).replace("{", "{{").replace("}", "}}")
