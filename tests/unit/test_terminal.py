"""Stored text printed to a terminal: control characters shown, never obeyed."""

from __future__ import annotations

import pytest

from pipeline.cli.output import printable

HYPERLINK = "\x1b]8;;http://evil\x07click\x1b]8;;\x07"


@pytest.mark.parametrize("hostile, shown", [
    (HYPERLINK, "\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07"),  # OSC 8 hyperlink
    ("\x1b[2Jgone", "\\x1b[2Jgone"),  # clear the screen
    ("paid\rfree", "paid\\rfree"),  # carriage return overwrites the line
    ("abc\x08\x08\x08xyz", "abc\\x08\\x08\\x08xyz"),  # backspaces
    ("\x9b31m", "\\x9b31m"),  # 8-bit CSI
    ("\x00\x7f", "\\x00\\x7f"),
    ("a\u202eexe.txt", "a\\u202eexe.txt"),  # right-to-left override
    ("col\tumn\nline", "col\\tumn\\nline"),
])
def test_every_control_character_is_shown_as_an_escape(hostile, shown) -> None:
    assert printable(hostile) == shown


def test_text_without_controls_is_unchanged() -> None:
    text = "Nicolás Maduro, “soberanía”, 日本語, emoji 👩‍👩‍👧 [bold]x[/bold] \\x1b"
    assert printable(text) == text


def test_a_layout_may_keep_its_tabs_and_newlines() -> None:
    assert printable("a\tb\nc\x1b[2J", keep="\t\n") == "a\tb\nc\\x1b[2J"
