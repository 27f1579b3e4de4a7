"""Timezone-aware times. Shops send naive strings with a separate GMT twin; we keep UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: object, what: str, *, assume_utc: bool = True) -> datetime:
    """An ISO 8601 time; a naive one is taken as UTC (WooCommerce's *_gmt fields are)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} is {value!r}, expected a date and time like 2026-03-01T12:00:00")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} is {value!r}, expected a date and time like 2026-03-01T12:00:00") from None
    if parsed.tzinfo is None:
        if not assume_utc:
            raise ValueError(f"{what} is {value!r}, which has no time zone")
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")
