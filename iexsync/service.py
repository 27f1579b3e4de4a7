"""What each command does, between the CLI (which parses and formats) and the engine.

Opens the connectors, the log and the lock for one command and always closes them.
Each command imports what it uses (the engine, the connectors), so `log search` does not
pay for `sync`'s modules.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

from iexsync import registry

TYPE_CHECKING = False  # typing itself is not imported: `log search` starts without it
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    from iexsync.books.base import Books
    from iexsync.config import Settings
    from iexsync.engine import Event, RunResult
    from iexsync.shops.base import Shop
    from iexsync.store import Store


def open_shop(settings: Settings) -> Shop:
    return registry.load("shops", settings.shop["platform"]).from_config(settings.shop, settings.base_dir)


def open_books(settings: Settings) -> Books:
    return registry.load("books", settings.accounting["system"]).from_config(settings.accounting, settings.base_dir)


@contextmanager
def connected(settings: Settings, *, dry_run: bool = False) -> Iterator[tuple[Shop, Books, Store]]:
    """The shop, the books and the log under the run lock; a dry run takes no lock and
    opens the log read-only."""
    from iexsync.lock import RunLock
    from iexsync.store import Store

    with ExitStack() as stack:
        if not dry_run:
            stack.enter_context(RunLock(settings.lock_path))
        store = Store(settings.log_path, read_only=dry_run)
        stack.callback(store.close)
        shop = open_shop(settings)
        stack.callback(shop.close)
        books = open_books(settings)
        stack.callback(books.close)
        yield shop, books, store


def sync(settings: Settings, *, dry_run: bool = False, order_ids: list[str] | None = None,
         on_event: Callable[[Event], None] | None = None, forced: bool = True) -> RunResult:
    """One run. A dry run takes no lock and writes nothing: not remote, not the cursor, not the log.
    `order_ids` with `forced` (on demand) logs every outcome again; webhook runs pass False."""
    from iexsync.engine import Engine

    with connected(settings, dry_run=dry_run) as (shop, books, store):
        engine = Engine(settings, shop, books, store, dry_run=dry_run, on_event=on_event)
        return engine.run(order_ids, forced=forced)


def states(settings: Settings) -> list[dict[str, Any]]:
    """The shop's states with counts, each marked allowed or not, with what it becomes."""
    shop = open_shop(settings)
    try:
        listed = shop.states()
    finally:
        shop.close()
    rows = []
    names = [state for state, _ in listed] + [s for s in settings.transfer.allowed_states if s not in dict(listed)]
    counts = dict(listed)
    for state in names:
        rule = settings.transfer.rule_for(state)
        action = "—"
        if rule is not None:
            action = rule.document + (", booked" if rule.book and rule.document == "invoice" else "")
        rows.append({"state": state, "orders": counts.get(state), "allowed": rule is not None, "becomes": action})
    return rows


def search(log_path: Path | str, query: str, limit: int) -> list[dict[str, Any]]:
    """What the log holds for `query` (logsearch.search); nothing when there is no log yet.
    The log is opened read-only, without the store's write side, and never migrated."""
    import os
    import sqlite3

    from iexsync import logsearch
    from iexsync.errors import LogUnavailable

    if not os.path.exists(log_path):
        return []
    try:
        conn = logsearch.connect(log_path)
        try:
            return logsearch.search(lambda sql, params: conn.execute(sql, params).fetchall(), query, limit)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise LogUnavailable(f"cannot read the log at {log_path}: {exc}; check the path and its permissions (log.path)") from None
