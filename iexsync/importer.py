"""`iexsync import --from DATE [--to DATE]`: the orders created in a window, through the same
rules and the same exactly-once machinery as `sync`.

The import is an engine run over a view of the shop (`WindowShop`) that lists only the
window's orders, with `--from` as the start date. It keeps its own cursor (the view's name),
so cron's cursor never moves past orders cron has not seen. Stopped (Ctrl-C, SIGTERM) it
stops taking orders, lets the ones in flight finish, and the next import carries on: the
orders already settled are exactly as they were decided, so they are passed over without
being decided again; a kill -9 leaves intents the next run resolves as any run does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from iexsync.config import Settings
from iexsync.shops.base import BrokenOrder, Shop, ShopItem

# Failures grouped by cause for the closing report, by words in the message: the first
# cause whose pattern matches names the group.
CAUSES = (
    ("missing SKU", re.compile(r"\bSKU\b")),
    ("VAT", re.compile(r"\bVAT\b|\bvat\b|tax", re.I)),
    ("missing customer data", re.compile(r"customer|billing|address|e-?mail|name\b", re.I)),
    ("closed accounting year", re.compile(r"accounting year|closed|period", re.I)),
    ("totals that do not add up", re.compile(r"total", re.I)),
    ("the shop's order cannot be read", re.compile(r"cannot be read|expected", re.I)),
    ("temporary (retried by the next run)", re.compile(r"timed out|unavailable|try again|5\d\d|429|connection", re.I)),
)
_DATES = re.compile(r"\d{4}-\d{2}-\d{2}")


class WindowShop:
    """The shop, listing only the orders created from `start` to `end` (dates, inclusive)."""

    def __init__(self, shop: Shop, start: dt.date, end: dt.date | None, stop: threading.Event,
                 on_order: Callable[[], None] | None = None):
        self._shop = shop
        self.start, self.end = start, end
        self._stop = stop
        self._on_order = on_order
        self.listed: list[tuple[str, str]] = []  # (id, number) of each order handed to the engine
        self.name = f"{shop.name}-import"  # the import's own cursor, never cron's

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shop, name)

    def in_window(self, item: ShopItem) -> bool:
        if isinstance(item, BrokenOrder):
            return True  # cannot tell its date: logged as an error for it alone, once
        created = item.created.date()
        return created >= self.start and (self.end is None or created <= self.end)

    def changed_orders(self, since: dt.datetime | None) -> Iterator[ShopItem]:
        """The window's orders; `since` is ignored (an order created in the window was
        modified since its start, so the shop's own list from there holds them all)."""
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
        for item in self._shop.changed_orders(start):
            if self._stop.is_set():
                return
            if self.in_window(item):
                self.listed.append((item.order_id, item.number or item.order_id))
                yield item  # the engine takes the next one once this one is handed to a worker
                if self._on_order is not None:
                    self._on_order()

    def count(self) -> int:
        """How many orders the window holds (one more pass over the list, for the progress bar)."""
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.timezone.utc) - dt.timedelta(days=1)
        return sum(1 for item in self._shop.changed_orders(start) if self.in_window(item))


@dataclasses.dataclass
class Report:
    """What the import did, by order: the closing report."""

    seen: int = 0
    transferred: list[str] = dataclasses.field(default_factory=list)
    skipped: dict[str, list[str]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    failed: dict[str, list[str]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    warnings: list[str] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    dry_run: bool = False

    @property
    def unchanged(self) -> int:
        """Orders settled by an earlier run (or import) and passed over."""
        named = set(self.transferred) | {n for ns in self.skipped.values() for n in ns} | {
            n for ns in self.failed.values() for n in ns}
        return max(self.seen - len(named), 0)

    def to_json(self) -> dict[str, Any]:
        return {"orders": self.seen, "transferred": self.transferred, "skipped": dict(self.skipped),
                "failed": dict(self.failed), "warnings": self.warnings, "unchanged": self.unchanged,
                "interrupted": self.interrupted, "dry_run": self.dry_run}


def cause(message: str) -> str:
    for name, pattern in CAUSES:
        if pattern.search(message):
            return name
    return "other"


def skip_reason(message: str) -> str:
    return _DATES.sub("…", message)


def run_import(settings: Settings, start: dt.date, end: dt.date | None, *, dry_run: bool,
               stop: threading.Event, on_total: Callable[[int], None] | None = None,
               on_order: Callable[[], None] | None = None) -> Report:
    """Import the window; `on_total(n)` is told the window's size first (only if given: it
    costs a pass over the list), `on_order()` after each order."""
    from iexsync import service
    from iexsync.engine import Engine

    rules = dataclasses.replace(settings.transfer, start_date=start)
    # A config of its own: orders skipped before as "before the start date" are decided again.
    settings = dataclasses.replace(settings, transfer=rules, fingerprint=f"{settings.fingerprint}:from:{start}")
    report = Report(dry_run=dry_run)
    lock = threading.Lock()

    def on_event(event: Any) -> None:
        with lock:
            if event.outcome in ("transferred", "updated", "booked", "credited"):
                if event.order not in report.transferred:
                    report.transferred.append(event.order)
            elif event.outcome == "skipped":
                report.skipped[skip_reason(event.message)].append(event.order)
            elif event.outcome == "error":
                report.failed[cause(event.message)].append(event.order)
            elif event.outcome == "warning":
                report.warnings.append(f"order {event.order}: {event.message}")

    with service.connected(settings, dry_run=dry_run) as (shop, books, store):
        window = WindowShop(shop, start, end, stop, on_order)
        if on_total is not None:
            on_total(window.count())
        engine = Engine(settings, window, books, store, dry_run=dry_run, on_event=on_event)
        try:
            result = engine.run()
        except BaseException as exc:
            store.fail_run(service.run_failure(exc))
            raise
        report.seen = result.orders_seen
        report.interrupted = stop.is_set()
        _earlier_outcomes(report, window.listed, store)
    return report


def _earlier_outcomes(report: Report, listed: list[tuple[str, str]], store: Any) -> None:
    """Orders this run had nothing new to say about (settled by an earlier run or import),
    reported by their last outcome: an import resumed ends with the whole window's report."""
    said = set(report.transferred) | {n for ns in report.skipped.values() for n in ns} | {
        n for ns in report.failed.values() for n in ns}
    quiet = [(order_id, number) for order_id, number in listed if number not in said]
    outcomes = store.last_outcomes([order_id for order_id, _ in quiet])
    for order_id, number in quiet:
        outcome, message = outcomes.get(order_id, ("", ""))
        if outcome == "error":
            report.failed[cause(message)].append(number)
        elif outcome == "skipped":
            report.skipped[skip_reason(message)].append(number)
        elif outcome == "warning":
            report.warnings.append(f"order {number}: {message}")
