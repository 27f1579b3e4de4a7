"""Secrets never reach logs, output or exceptions.

Config loading registers every secret value here (the fields its schema declares
`writeOnly`, see config.secret_paths); everything iexsync prints or stores
goes through `redact`. A process-wide set is deliberate: a secret may surface anywhere
(a URL in an exception, an echoed request body), and the one safe place to catch it is
on the way out.
"""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

MASK = "***"
# Secrets shorter than this would mask ordinary words; such values are refused by the config.
MIN_SECRET_LENGTH = 4


def register(value: str) -> None:
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        if value not in _secrets:
            _secrets.add(value)
            _pattern = None  # compiled at the next redact: a run that prints nothing compiles nothing


def redact(text: str) -> str:
    if not text or not _secrets:
        return text
    return (_pattern or _compiled()).sub(MASK, text)


def _compiled() -> re.Pattern[str]:
    global _pattern
    with _lock:
        if _pattern is None:  # the longest first: a secret containing another is masked whole
            _pattern = re.compile("|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True)))
        return _pattern

