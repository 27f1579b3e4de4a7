"""Searching the log (`iexsync log search`): the read side alone.

Kept apart from `store.py`, whose write side (dataclasses, migrations, transactions) a
search does not need, so that a search starts with little more than sqlite3 imported.
`Store.search` is this same search on the store's own connection.
"""

from __future__ import annotations

import os
import re
import sqlite3

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    Rows = Callable[[str, tuple], list[tuple]]

_COLUMNS = "time, order_number, order_id, state, outcome, document_kind, document_number, message"
_SURROGATE = re.compile("[\ud800-\udfff]")


def connect(path: str | Path) -> sqlite3.Connection:
    """The log opened so that nothing can be written (a URI with mode=ro), as `Store` opens it
    read-only; sqlite3.Error if it cannot be."""
    escaped = "".join(f"%{ord(c):02X}" if c in "%?#" else c for c in os.path.abspath(path))
    conn = sqlite3.connect(f"file://{escaped}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def search(rows: Rows, query: str, limit: int = 200) -> list[dict[str, Any]]:
    """By order number first, then order id, e-mail, document number, then words in messages.
    `rows(sql, params)` runs one statement and returns its rows."""
    query = storable(query.strip())  # bytes typed that are not UTF-8: as the log stores them
    for column in ("order_number", "order_id", "email", "document_number"):
        value = query.lower() if column == "email" else query
        found_rows = rows(f"SELECT {_COLUMNS} FROM events WHERE {column} = ? ORDER BY id DESC LIMIT ?", (value, limit))
        if found_rows:
            found = [_event(r) for r in found_rows]
            if column in ("order_number", "order_id"):
                found = _newest_first(found + _deliveries(rows, found_rows[0][2], limit), limit)
            return found
    if query.isdigit():
        deliveries = _deliveries(rows, query, limit)
        if deliveries:
            return deliveries
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found_rows = rows(f"SELECT {_COLUMNS} FROM events WHERE message LIKE ? ESCAPE '\\' ORDER BY id DESC LIMIT ?",
                      (pattern, limit))
    return [_event(r) for r in found_rows]


def storable(text: str) -> str:
    """Text SQLite can hold: JSON's \\u escapes can carry lone surrogates, which UTF-8 cannot;
    each becomes U+FFFD, in what the log stores and in what a search looks for."""
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _deliveries(rows: Rows, order_id: str, limit: int) -> list[dict[str, Any]]:
    """Webhook deliveries for the order, shown beside its events (outcome: the delivery's fate)."""
    found = rows(
        "SELECT received_at, order_id, status, reason, topic, delivery_id FROM inbox WHERE order_id = ? "
        "ORDER BY id DESC LIMIT ?",
        (order_id, limit),
    )
    return [
        {
            "time": time, "order": order, "order_id": order, "state": "", "outcome": f"webhook {status}",
            "document": "", "message": f"Webhook {topic or 'delivery'} {delivery_id}".strip() + (f": {reason}" if reason else ""),
        }
        for time, order, status, reason, topic, delivery_id in found
    ]


def _newest_first(found: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    return sorted(found, key=lambda row: row["time"], reverse=True)[:limit]


def _event(row: tuple) -> dict[str, Any]:
    time, number, order_id, state, outcome, kind, doc_number, message = row
    document = " ".join(p for p in (kind.replace("_", " ") if kind else "", doc_number or "") if p)
    return {
        "time": time, "order": number or order_id, "order_id": order_id, "state": state,
        "outcome": outcome, "document": document, "message": message,
    }
