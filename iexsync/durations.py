"""Durations as people type them on a command line: `30s`, `15m`, `12h`, `2d`, `400d`, `1w`."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+)\s*([smhdw])")


def seconds(text: str) -> int:
    """The number of seconds `text` says; ValueError with what is expected otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 12h, 2d or 1w")
    return int(match.group(1)) * _UNITS[match.group(2)]
