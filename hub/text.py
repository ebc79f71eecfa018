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

# The refused characters as the body of a regex character class, written with
# ``\\uXXXX`` escapes that Python's re, ECMAScript (JSON Schema ``pattern``, the web
# app) and Rust's regex read alike. The OpenAPI schema states the rule with the
# patterns below, made from the same class, so it says exactly what is refused.
FORBIDDEN_CLASS = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff"
# What str.strip() removes (str.isspace()): a required text must have something else.
WHITESPACE_CLASS = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
TEXT_PATTERN = f"^[^{FORBIDDEN_CLASS}]*$"
"""JSON Schema ``pattern`` of text that may be empty (``required=False``)."""
REQUIRED_TEXT_PATTERN = (
    f"^[^{FORBIDDEN_CLASS}]*[^{WHITESPACE_CLASS}{FORBIDDEN_CLASS}][^{FORBIDDEN_CLASS}]*$"
)
"""JSON Schema ``pattern`` of text that must not be empty once trimmed."""

_FORBIDDEN = re.compile(f"[{FORBIDDEN_CLASS}]")


def clean_text(value: Any, *, field: str, max_length: int, required: bool = True) -> str:
    """The trimmed, normalised text, or InvalidInput naming the field and the problem."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text.")
    # Refused anywhere, also where strip() would drop them (\x0b, \x0c and \x1c-\x1f
    # count as whitespace): the schema's pattern states the rule for the whole text.
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters.")
    if _FORBIDDEN.search(value):
        raise InvalidInput(f"{field} must not contain control characters.")
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not value:
        raise InvalidInput(f"{field} must not be empty.")
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} is not valid Unicode text.") from None
    return value
