"""app.text: a user string put into a Markdown or HTML pane renders as exactly its text."""

from __future__ import annotations

import pytest

from app import text
from engine.text import printable
from tests.app.conftest import Rendered, markdown_html
from tests.app.payloads import LONG_PAYLOAD, PAYLOADS

CASES = [*PAYLOADS, LONG_PAYLOAD, "a\nb\t# c\n===", "1. x", "- y", "> q", "a\\b", "www.x.org"]


@pytest.mark.parametrize("payload", CASES)
def test_markdown_renders_the_literal_text_and_no_element(payload):
    rendered = Rendered(markdown_html(f"Object {text.markdown(payload)}."))
    assert rendered.tags == [("p", [])]
    expected = " ".join(printable(payload).split())  # line breaks become spaces
    assert " ".join(rendered.text.split()) == f"Object {expected}."


@pytest.mark.parametrize("payload", CASES)
def test_markdown_is_inert_inside_emphasis_and_headings(payload):
    rendered = Rendered(
        markdown_html(f"### Object {text.markdown(payload)}\n**{text.markdown(payload)}**")
    )
    assert [tag for tag, _ in rendered.tags] == ["h3", "p", "strong"]


@pytest.mark.parametrize("payload", CASES)
def test_html_renders_the_literal_text_and_no_element(payload):
    source = f'<span title="{text.html(payload)}">{text.html(payload)}</span>'
    rendered = Rendered(source)
    assert rendered.tags == [("span", [("title", printable(payload))])]
    assert rendered.text == printable(payload)


def test_quotes_and_entities_show_as_typed():
    # a quote escaped to &#x27; and then backslashed before '#' showed as "&#x27;"
    assert Rendered(markdown_html(text.markdown('o\'brien "q" &amp;'))).text.strip() == (
        'o\'brien "q" &amp;'
    )
