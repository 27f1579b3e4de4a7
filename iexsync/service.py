"""What each command does, between the CLI (which parses and formats) and the engine.

Opens the connectors, the log and the lock for one command and always closes them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from iexsync import registry
from iexsync.books.base import Books
from iexsync.config import Settings
from iexsync.engine import Engine, Event, RunResult
from iexsync.lock import RunLock
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


def search(settings: Settings, query: str, limit: int) -> list[dict[str, Any]]:
    if not settings.log_path.exists():
        return []
    store = Store(settings.log_path, read_only=True)
    try:
        return store.search(query, limit)
    finally:
        store.close()
