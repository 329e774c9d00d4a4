import pytest

from engine.text import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred\x1b[0m", "red"),  # ANSI colour
        ("\x1b]0;title\x07id", "id"),  # OSC: sets the terminal title
        ("abc\u202edcba", "abcdcba"),  # RTL override
        ("a\u2066b\u2069c\u200f", "abc"),  # bidi isolates and marks
        ("nul\x00byte\x7f\x9b", "nulbyte"),  # NUL, DEL, C1 CSI
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # kept
        ("<img src=x>", "<img src=x>"),  # HTML is not the terminal's business
        ("μLens-Single ☆", "μLens-Single ☆"),
        (615, "615"),
    ],
)
def test_printable_removes_only_control_characters(text, shown):
    assert printable(text) == shown
