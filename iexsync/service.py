"""What each command does, between the CLI (which parses and formats) and the engine.

Opens the connectors, the log and the lock for one command and always closes them.
Each command imports what it uses (the engine, the connectors), so `log search` does not
pay for `sync`'s modules.
"""

from __future__ import annotations

from contextlib import ExitStack, contextmanager

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
    from iexsync import registry  # not at the top: `log search` opens no connector

    return registry.load("shops", settings.shop["platform"]).from_config(settings.shop, settings.base_dir)


def open_books(settings: Settings) -> Books:
    from iexsync import registry

    return registry.load("books", settings.accounting["system"]).from_config(settings.accounting, settings.base_dir)


@contextmanager
def connected(settings: Settings, *, dry_run: bool = False,
              kept: Connectors | None = None) -> Iterator[tuple[Shop, Books, Store]]:
    """The shop, the books and the log under the run lock; a dry run takes no lock and
    opens the log read-only. With `kept`, its shop and books serve (and stay open after)."""
    from iexsync.lock import RunLock
    from iexsync.store import Store

    with ExitStack() as stack:
        if not dry_run:
            stack.enter_context(RunLock(settings.lock_path))
        store = Store(settings.log_path, read_only=dry_run)
        stack.callback(store.close)
        connectors = kept or stack.enter_context(Connectors(settings))
        yield connectors.shop, connectors.books, store


class Connectors:
    """The shop and the books of one config, open until `close()`. A run opens its own; the
    webhook worker keeps one for all its runs, so a run a moment after the last reuses its
    connections (no TCP or TLS handshake per run) and its rate limiter, which then counts
    the calls of every run together, as the accounting system does."""

    def __init__(self, settings: Settings):
        self.shop = open_shop(settings)
        self.books = BooksOnFirstUse(lambda: open_books(settings))

    def close(self) -> None:
        try:
            self.books.close()
        finally:
            self.shop.close()

    def __enter__(self) -> Connectors:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class BooksOnFirstUse:
    """The books, opened at their first real use: an idle cron run (nothing changed) never
    asks them anything, and importing a connector (e-conomic's modules, their VAT and
    config types) costs it more than the rest of its own work. `use_memory` is kept until
    then; `close` closes only books that were opened."""

    def __init__(self, opener: Callable[[], Books]):
        import threading

        self._opener = opener
        self._books: Books | None = None
        self._memory: Any = None
        self._lock = threading.Lock()  # orders run on threads: the books are opened once

    def use_memory(self, memory: Any) -> None:
        if self._books is None:
            self._memory = memory
        else:
            self._books.use_memory(memory)

    @property
    def opened(self) -> bool:
        return self._books is not None

    def _open(self) -> Books:
        with self._lock:
            if self._books is None:
                books = self._opener()
                if self._memory is not None:
                    books.use_memory(self._memory)
                self._books = books
        return self._books

    def __getattr__(self, name: str) -> Any:  # only for what this class does not answer itself
        if name.startswith("__"):
            raise AttributeError(name)  # copy/pickle probing an instance, not a question for the books
        return getattr(self._open(), name)

    def close(self) -> None:
        if self._books is not None:
            self._books.close()


def sync(settings: Settings, *, dry_run: bool = False, order_ids: list[str] | None = None,
         on_event: Callable[[Event], None] | None = None, forced: bool = True,
         kept: Connectors | None = None) -> RunResult:
    """One run. A dry run takes no lock and writes nothing: not remote, not the cursor, not the log.
    `order_ids` with `forced` (on demand) logs every outcome again; webhook runs pass False,
    and the connectors they keep (`kept`)."""
    from iexsync.engine import Engine

    if order_ids is not None and forced:
        order_ids = list(resolve_orders(settings, order_ids).values())
    notifier = None if dry_run else notifier_for(settings)
    with connected(settings, dry_run=dry_run, kept=kept) as (shop, books, store):
        engine = Engine(settings, shop, books, store, dry_run=dry_run, on_event=on_event)
        if notifier:
            notifier.started()
        try:
            result = engine.run(order_ids, forced=forced)
        except BaseException as exc:
            store.fail_run(run_failure(exc))  # for `iexsync status`
            if notifier:
                notifier.failed(run_failure(exc), memory=store)
            raise
        if notifier:
            report = status_report(store, settings) if notifier.wants_status() else None
            notifier.finished(result.events, result.counts, memory=store, status=report)
        return result


def notifier_for(settings: Settings) -> Any:
    """The `notify:` section's Notifier, or None when nobody is to be told."""
    if not settings.notify:
        return None
    from iexsync.notify import Notifier

    return Notifier(settings.notify)


def status_report(store: Store, settings: Settings) -> dict[str, Any]:
    """`iexsync status`'s report on the store's own connection (for the digest)."""
    from iexsync import status
    from iexsync.timeutil import utc_now

    return status.collect(store.rows, utc_now(), 3600)


def run_failure(exc: BaseException) -> str:
    """Why a run stopped, in a line: the message a person sees for it."""
    from iexsync.errors import Interrupted

    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return "interrupted"
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


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


def search(log_path: Path | str, query: str | None, limit: int, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """What the log holds for `query` (logsearch.search); NoLog when there is no log.
    The log is opened read-only, without the store's write side, and never migrated."""
    from iexsync import logsearch

    return read_log(log_path, lambda rows: logsearch.search(rows, query, limit, filters))


def history(log_path: Path | str, order: str) -> dict[str, Any]:
    """One order's history (history.collect), found by number or id; UserError if the log
    does not know it."""
    from iexsync import history
    from iexsync.errors import UserError

    def read(rows: Any) -> dict[str, Any]:
        order_id = history.find_order(rows, order)
        if order_id is None:
            raise UserError(f"no such order in the log: {order!r} (try `iexsync log search`)")
        return history.collect(rows, order_id)

    return read_log(log_path, read)


def read_log(log_path: Path | str, read: Callable[[Callable[[str, tuple], list[tuple]]], Any]) -> Any:
    """`read(rows)` on the log opened read-only (never migrated, nothing written);
    NoLog when there is no log at `log_path`, LogUnavailable when it cannot be read."""
    import os
    import sqlite3

    from iexsync import logsearch
    from iexsync.errors import LogUnavailable, NoLog

    if not os.path.exists(log_path):
        raise NoLog(f"no log at {log_path} (check --config)")
    try:
        conn = logsearch.connect(log_path)
        try:
            return read(lambda sql, params: conn.execute(sql, params).fetchall())
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise LogUnavailable(f"cannot read the log at {log_path}: {exc}; check the path and its permissions (log.path)") from None


def status(log_path: Path | str, stale_after: int) -> dict[str, Any]:
    """`iexsync status`'s report (status.collect); a missing log is a stale one, said so."""
    from iexsync import status
    from iexsync.errors import NoLog
    from iexsync.timeutil import utc_now

    try:
        return read_log(log_path, lambda rows: status.collect(rows, utc_now(), stale_after))
    except NoLog as exc:
        raise NoLog(f"{exc}: no run has been recorded", exit_code=status.EXIT_STALE) from None


def resolve_orders(settings: Settings, wanted: list[str]) -> dict[str, str]:
    """Each order named on the command line → its id: an order number the log knows (what
    support staff know), else an id the shop has. NoSuchOrder for any neither knows, before
    anything is written (no log, no lock). An order the shop cannot be asked about now
    (the network) is left to the run, which logs why."""
    import os

    from iexsync import history, logsearch
    from iexsync.errors import NoSuchOrder, OrderError, OrderNotFound

    found: dict[str, str] = {}
    if os.path.exists(settings.log_path):
        conn = logsearch.connect(settings.log_path)
        try:
            rows = lambda sql, params: conn.execute(sql, params).fetchall()  # noqa: E731
            for value in wanted:
                order_id = history.find_order(rows, value)
                if order_id is not None:
                    found[value] = order_id
        finally:
            conn.close()
    missing = []
    unknown = [value for value in dict.fromkeys(wanted) if value not in found]
    if unknown:
        shop = open_shop(settings)
        try:
            for value in unknown:
                try:
                    item = shop.get_order(value)
                except OrderNotFound:
                    missing.append(value)
                    continue
                except OrderError:
                    item = None
                found[value] = item.order_id if item is not None else value
        finally:
            shop.close()
    if missing:
        raise NoSuchOrder(f"no such order: {', '.join(missing)} (neither an order number in the log nor an order id "
                          "the shop knows); nothing was done")
    return {value: found[value] for value in dict.fromkeys(wanted)}


def prune(settings: Settings, older_than: int, *, dry_run: bool = False) -> dict[str, int]:
    """`iexsync log prune`: under the run lock, so no run writes meanwhile."""
    from datetime import timedelta

    from iexsync.lock import RunLock
    from iexsync.store import Store
    from iexsync.timeutil import iso, utc_now

    from iexsync.errors import NoLog

    if not settings.log_path.exists():
        raise NoLog(f"no log at {settings.log_path} (check --config)")
    with RunLock(settings.lock_path):
        store = Store(settings.log_path)
        try:
            return store.prune(iso(utc_now() - timedelta(seconds=older_than)), dry_run=dry_run)
        finally:
            store.close()


def check_config(settings: Settings) -> None:
    """What `sync` would refuse and the schema cannot see, all at once (ConfigError): the
    connectors' own checks (a missing shop folder, a ledger folder that cannot be made), and
    templates and filters naming fields an order does not have, tried on a sample order."""
    import json
    from importlib import resources

    from iexsync.errors import ConfigError
    from iexsync.shops.woocommerce.order import parse_order

    problems: list[str] = []
    for opener in (open_shop, open_books):
        try:
            opener(settings).close()
        except ConfigError as exc:
            problems += exc.problems
    sample = parse_order(json.loads(resources.files("iexsync").joinpath("sample_order.json").read_text("utf-8")))
    if settings.mappings or settings.filters:
        from jinja2 import UndefinedError

        from iexsync import mapping, templates

        context = mapping.template_context(sample)
        checks = [(f"mappings.{name}", source, templates.render) for name, source in settings.mappings.items()]
        checks += [(f"filters[{index}].skip_if", rule.skip_if, templates.evaluate) for index, rule in enumerate(settings.filters)]
        for where, source, run in checks:
            try:
                run(source, context)
            except UndefinedError as exc:
                problems.append(f"{where}: {source!r} names a field an order does not have ({exc.message}); "
                                "`iexsync log show ORDER --json` shows an order's fields")
            except Exception:  # noqa: S110 - other failures depend on the order, not the config
                pass
    if problems:
        raise ConfigError(problems, str(settings.path))
