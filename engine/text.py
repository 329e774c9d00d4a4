"""Text from users and files made safe to print: control characters removed.

Object ids, band names and notes come from uploaded files. Printed as they are, an ANSI escape
can rewrite a terminal line, an RTL override can make ``abc`` read as ``cba`` and a NUL can
truncate a log line; :func:`printable` removes them and keeps every other character.
"""

from __future__ import annotations

import re

#: ANSI/VT100 escape sequences (CSI ... final byte, OSC ... BEL/ST, and two-byte escapes)
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
#: C0 and C1 controls except tab and newline, DEL, and the Unicode bidirectional controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: object) -> str:
    """Return ``str(text)`` without ANSI escapes, control characters or bidi overrides."""
    return _CONTROL.sub("", _ANSI.sub("", str(text)))
