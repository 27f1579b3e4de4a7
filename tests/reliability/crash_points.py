"""Run the real `iexsync` CLI in this process and SIGKILL it at a named point.

    python -m tests.reliability.crash_points POINT N -- sync --config FILE

Like tests/crash_runner.py (which does this for the Beancount ledger), but with the points
of a run against a remote accounting system (e-conomic over HTTP), from "intent recorded"
to "log committed". N picks the Nth time the point is reached in the run (1 = first).
A point is a wrapper around a real method (or urllib3's socket layer) that kills the
process — no cleanup, no finally blocks, no flushing — and otherwise calls the real
method: nothing in iexsync is replaced. With `transfer.workers` > 1 the other order
threads die mid-step too, which is what a real crash does.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable

import urllib3.connection

from iexsync.books.economic import EconomicBooks
from iexsync.http import Client
from iexsync.store import Store

WRITES = ("POST", "PUT", "PATCH", "DELETE")

# name: (what it wraps, in words) — in the order a write goes through them
POINTS = {
    "intent-committed": "the intent row is committed; nothing sent yet",
    "before-request": "a write (POST/PUT) is about to be sent",
    "request-sent": "the write's bytes are on the wire; its answer not read (the server may or may not act)",
    "answer-received": "the write's answer (2xx or not) is in hand, not yet looked at",
    "after-create": "EconomicBooks.create returned: the draft exists remotely, the log knows nothing",
    "before-book": "about to book the draft (POST /invoices/booked), also inside a credit note",
    "after-book": "the invoice is booked remotely, the log still says draft",
    "after-credit": "the credit note exists and is booked remotely, not logged",
    "inside-log-transaction": "the transfer row is written inside the open transaction (rolled back)",
    "before-commit": "the result, the event and the intent's closing are written, COMMIT not yet run",
    "after-commit": "the result is committed; the order's claim still held",
    "before-cursor": "every order committed; the cursor not moved",
}

_hits = {"n": 0}
_lock = threading.Lock()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _hit(occurrence: int) -> bool:
    with _lock:
        _hits["n"] += 1
        return _hits["n"] == occurrence


def _wrap(cls: type, name: str, when: str, occurrence: int, only: Callable[..., bool] | None = None) -> None:
    real = getattr(cls, name)

    @functools.wraps(real)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        counted = only is None or only(self, *args, **kwargs)
        hit = counted and _hit(occurrence)
        if hit and when == "before":
            _kill()
        result = real(self, *args, **kwargs)
        if hit and when == "after":
            _kill()
        return result

    setattr(cls, name, wrapper)


_saving = threading.local()


def arm(point: str, occurrence: int) -> None:
    if point not in POINTS:
        raise SystemExit(f"unknown point {point!r}; one of {', '.join(POINTS)}")
    if point == "intent-committed":
        _wrap(Store, "open_intent", "after", occurrence)
    elif point == "before-request":
        _wrap(Client, "request", "before", occurrence, only=lambda self, method, *a, **k: method.upper() in WRITES)
    elif point == "answer-received":
        _wrap(Client, "request", "after", occurrence, only=lambda self, method, *a, **k: method.upper() in WRITES)
    elif point == "request-sent":
        def is_write(conn: Any, *args: Any, **kwargs: Any) -> bool:
            options = getattr(conn, "_response_options", None)
            return bool(options and options.request_method in WRITES)

        _wrap(urllib3.connection.HTTPConnection, "getresponse", "before", occurrence, only=is_write)
    elif point == "after-create":
        _wrap(EconomicBooks, "create", "after", occurrence)
    elif point == "before-book":
        _wrap(EconomicBooks, "book", "before", occurrence, only=lambda self, ref, *a, **k: not ref.booked)
    elif point == "after-book":
        _wrap(EconomicBooks, "book", "after", occurrence, only=lambda self, ref, *a, **k: not ref.booked)
    elif point == "after-credit":
        _wrap(EconomicBooks, "credit", "after", occurrence)
    elif point == "inside-log-transaction":
        _wrap(Store, "save_transfer", "after", occurrence)
    elif point == "before-commit":
        _arm_before_commit(occurrence)
    elif point == "after-commit":
        _wrap(Store, "release", "before", occurrence)
    elif point == "before-cursor":
        _wrap(Store, "set_cursor", "before", occurrence)


def _arm_before_commit(occurrence: int) -> None:
    """Kill at the end of a transaction that saved a transfer, just before its COMMIT."""
    real_save = Store.save_transfer
    real_transaction = Store.transaction

    def save_transfer(self: Store, *args: Any, **kwargs: Any) -> Any:
        _saving.flag = True
        return real_save(self, *args, **kwargs)

    @contextmanager
    def transaction(self: Store) -> Any:
        _saving.flag = False
        with real_transaction(self):
            yield
            if getattr(_saving, "flag", False) and _hit(occurrence):
                _kill()

    Store.save_transfer = save_transfer  # type: ignore[method-assign]
    Store.transaction = transaction  # type: ignore[method-assign]


def main() -> None:
    point, occurrence, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: POINT N -- iexsync arguments"
    arm(point, int(occurrence))
    from iexsync.cli import cli

    cli(args, prog_name="iexsync")


if __name__ == "__main__":
    main()
