"""Object ids that try to inject HTML, Markdown, templates or terminal controls into a page."""

from __future__ import annotations

from engine.data.schema import MAX_OBJECT_ID_LENGTH

#: each would run a script, add an element or rewrite text if rendered unescaped
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    "[x](javascript:alert(4))",
    "&lt;b id=pwned&gt;entity&lt;/b&gt;",
    "{{7*7}}",
    "${7*7}",
    '"><img src=x onerror=alert(5)>',
    "o'brien <a href='javascript:alert(6)'>x</a>",
    "rtl\u202edi-txet",
    "*em* _em_ `code` # h | t | ~~s~~ $x$",
    "\x1b[31mansi\x1b[0m",
]
#: over the id limit: ingest must refuse it with a message that shows it as text
LONG_PAYLOAD = "<img src=x onerror=alert(9)>" + "x" * (10_000 - 28)
assert len(LONG_PAYLOAD) == 10_000 > MAX_OBJECT_ID_LENGTH
#: CSS selector of anything a payload could have injected
INJECTED = "img[src=x], svg[onload], [onerror], [onload], a[href^='javascript' i], #pwned"
