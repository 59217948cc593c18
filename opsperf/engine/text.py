"""What stored text may hold: no characters a person cannot type, and a bounded length.

Every entry point (form posts and the API, comments, imports, cycle names, log-in) checks text
with these before anything is stored, so a page never meets a value it cannot render.
"""

from __future__ import annotations

import re

# C0 and C1 control characters except tab, newline and carriage return; DEL; lone UTF-16
# surrogates (JSON can carry "\ud800", UTF-8 cannot encode it).
_UNTYPABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# Longest text a field may hold when its form does not say (``max_length`` overrides it).
DEFAULT_LIMITS = {"text": 500, "textarea": 10_000}
KPI_NOTE_LIMIT = 1_000
CHECKIN_NOTE_LIMIT = 500  # a check-in's note, a department goal's
COMMENT_LIMIT = 4_000


def untypable(value: str) -> bool:
    """Whether ``value`` holds a control character (tab and newlines aside) or a lone
    surrogate: nothing a keyboard makes, and a surrogate cannot even be written as UTF-8."""
    return _UNTYPABLE.search(value) is not None


def printable(value: str) -> str:
    """``value`` with every untypable character replaced by U+FFFD, for showing old data."""
    return _UNTYPABLE.sub("\ufffd", value)
