"""Searching the log (`iexsync log search`): the read side alone.

Kept apart from `store.py`, whose write side (dataclasses, migrations, transactions) a
search does not need, so that a search starts with little more than sqlite3 imported.
`Store.search` is this same search on the store's own connection.
"""

from __future__ import annotations

import os
import re
import sqlite3

from iexsync.naming import document_name, parse_document_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import Any

    Rows = Callable[[str, tuple], list[tuple]]

OUTCOMES = ("transferred", "updated", "booked", "credited", "skipped", "warning", "error")  # what an event can say
_COLUMNS = "time, order_number, order_id, state, outcome, document_kind, document_number, message, document_booked"
_SURROGATE = re.compile("[\ud800-\udfff]")


class _ReadOnly(sqlite3.Connection):
    """A read-only connection that, closed, takes away the -wal and -shm files its reading
    made (SQLite makes them to read a WAL log, and only a writer's close removes them):
    `log search`, `status` and a dry run leave the folder as they found it."""

    tidy: str | None = None

    def close(self) -> None:
        super().close()
        if self.tidy:
            try:  # the last connection's close removes them; with another one open, nothing happens
                other = sqlite3.connect(self.tidy, timeout=0.1)
                try:
                    other.execute("PRAGMA schema_version").fetchone()
                finally:
                    other.close()
            except sqlite3.Error:
                pass


def connect(path: str | Path) -> sqlite3.Connection:
    """The log opened so that nothing can be written (a URI with mode=ro), as `Store` opens it
    read-only; sqlite3.Error if it cannot be."""
    full = os.path.abspath(path)
    escaped = "".join(f"%{ord(c):02X}" if c in "%?#" else c for c in full)
    conn = sqlite3.connect(f"file://{escaped}?mode=ro", uri=True, isolation_level=None, check_same_thread=False,
                           factory=_ReadOnly)
    if not (os.path.exists(full + "-wal") or os.path.exists(full + "-shm")):
        conn.tidy = full  # nobody had it open for writing: leave no -wal/-shm behind
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


FILTERS = ("outcome", "state", "run", "since")


def search(rows: Rows, query: str | None, limit: int = 200, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """By order number first, then order id, e-mail, document number, then words in messages.
    `rows(sql, params)` runs one statement and returns its rows. `filters` narrow it to
    events with that `outcome`, `state` or `run`, or logged at or after `since` (an ISO
    time); with filters the query may be None: every event they let through."""
    try:
        return _search(rows, query, limit, filters or {}, _COLUMNS)
    except sqlite3.OperationalError as exc:
        if "document_booked" not in str(exc):
            raise
        # A log no run of this version has opened yet (a search never migrates it): its
        # rows do not say whether a document was booked.
        return _search(rows, query, limit, filters or {}, _COLUMNS.replace("document_booked", "NULL"))


def _search(rows: Rows, query: str | None, limit: int, filters: dict[str, str], columns: str) -> list[dict[str, Any]]:
    narrow, narrow_params = "", ()
    for key, value in filters.items():
        if value is not None:
            narrow += f" AND time >= ?" if key == "since" else f" AND {key} = ?"
            narrow_params += (value,)

    def events(where: str, params: tuple) -> list[tuple]:
        return rows(f"SELECT {columns} FROM events WHERE {where}{narrow} ORDER BY id DESC LIMIT ?",
                    params + narrow_params + (limit,))

    if query is None:
        return [_event(r) for r in events("1", ())]
    query = storable(query.strip())  # bytes typed that are not UTF-8: as the log stores them
    named = parse_document_name(query)  # "booked invoice 20003": that document, not a draft 20003
    if named is not None:
        kind, booked, number = named
        if booked is None:
            found_rows = events("document_number = ? AND document_kind = ?", (number, kind))
        else:
            found_rows = events("document_number = ? AND document_kind = ? AND document_booked = ?", (number, kind, int(booked)))
        return [_event(r) for r in found_rows]
    for column in ("order_number", "order_id", "email", "document_number"):
        value = query.lower() if column == "email" else query
        found_rows = events(f"{column} = ?", (value,))
        if found_rows:
            found = [_event(r) for r in found_rows]
            if column in ("order_number", "order_id") and not narrow:
                found = _newest_first(found + deliveries(rows, found_rows[0][2], limit), limit)
            return found
    if query.isdigit() and not narrow:
        waiting = deliveries(rows, query, limit)
        if waiting:
            return waiting
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return [_event(r) for r in events("message LIKE ? ESCAPE '\\'", (pattern,))]


def storable(text: str) -> str:
    """Text SQLite can hold: JSON's \\u escapes can carry lone surrogates, which UTF-8 cannot;
    each becomes U+FFFD, in what the log stores and in what a search looks for."""
    return _SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def deliveries(rows: Rows, order_id: str, limit: int) -> list[dict[str, Any]]:
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
    time, number, order_id, state, outcome, kind, doc_number, message, booked = row
    document = document_name(kind, doc_number, None if booked is None else bool(booked))
    return {
        "time": time, "order": number or order_id, "order_id": order_id, "state": state,
        "outcome": outcome, "document": document, "message": message,
    }
