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
        if value in _secrets:
            return
        _secrets.add(value)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def redact(text: str) -> str:
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)

