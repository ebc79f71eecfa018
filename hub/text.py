"""Text that officers write: one rule for every service.

Refused: NUL and the other C0 control characters (tab and newlines excepted),
U+FFFE/U+FFFF, and lone surrogates — none is typed by a person, PostgreSQL
cannot store some of them, and XML (CAP, Atom) cannot carry them. Line endings
are normalised to ``\\n`` so that what is stored is what every format returns.
"""

from __future__ import annotations

import re
from typing import Any

from hub.errors import InvalidInput

_FORBIDDEN = re.compile("[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff]")


def clean_text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    """The trimmed, normalised text, or InvalidInput naming the field and the problem."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.")
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty.")
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters.")
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters.")
    if _FORBIDDEN.search(value):
        raise InvalidInput(f"{field} must not contain control characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} is not valid Unicode text.") from None
    return value
