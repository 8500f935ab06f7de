"""Stored text on its way to a terminal.

Titles, outlet names, URLs and error messages come from feeds, pages, SMTP servers and
web forms; a terminal obeys the control characters in them (clear the screen, move the
cursor, plant an OSC 8 hyperlink whose target is not its text). Every CLI printer of
stored text passes it through `printable` first. Input cleaning is another matter and
lives with the parsers: what is stored stays as it was received.
"""

from __future__ import annotations

import re

# C0, DEL and C1 controls (ESC starts CSI and OSC sequences; 0x9b is an 8-bit CSI), and
# the bidirectional overrides that make text display in another order than it reads.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, *, keep: str = "") -> str:
    """`text` with every control character shown as an escape (`\\x1b`, `\\r`, `\\u202e`).

    Shown rather than dropped, so whoever reads the output sees that the text was
    hostile; once its ESC is shown, the rest of a sequence is inert text. `keep` names
    the controls a layout wants as they are (a table cell's newlines).
    """
    return _CONTROLS.sub(lambda found: found[0] if found[0] in keep
                         else found[0].encode("unicode_escape").decode("ascii"), text)
