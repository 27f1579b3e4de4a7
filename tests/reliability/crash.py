"""Run the real `iexsync` CLI in this process and SIGKILL it at a named point.

    python -m tests.reliability.crash POINT N -- sync --config FILE
    python -m tests.reliability.crash none 0 -- sync --config FILE     # a run that is not killed

One harness for every books connector: the Books points wrap the protocol methods of
whichever connector the config names (`accounting.system`), the log points wrap the
Store, and the HTTP points (for a connector that talks HTTP) wrap iexsync's http.Client
and urllib3's socket layer. N picks the Nth time the point is reached in the run (1 =
first). A point is a wrapper that kills the process — no cleanup, no finally blocks, no
flushing, exactly what a crash, an OOM kill or a power cut does — and otherwise calls
the real method: nothing in iexsync is replaced. With `transfer.workers` > 1 the other
order threads die mid-step too, which is what a real crash does.

The memory double (tests/contract/memory.py, with a journal file) is registered as the
books system `memory` here, so the engine's guarantees are also proven against a
connector that refuses nothing itself.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import yaml

WRITES = ("POST", "PUT", "PATCH", "DELETE")

# name: what the process has done when it dies there — in the order an order goes through them
POINTS = {
    "intent-committed": "the intent row is committed; nothing written to the books yet",
    "before-create": "Books.create is about to run",
    "before-request": "a write (POST/PUT) is about to be sent [HTTP]",
    "request-sent": "the write's bytes are on the wire; its answer not read (the server may or may not act) [HTTP]",
    "answer-received": "the write's answer (2xx or not) is in hand, not yet looked at [HTTP]",
    "after-create": "Books.create returned: the document exists in the books, the log knows nothing",
    "before-book": "Books.book is about to book a draft",
    "after-book": "the invoice is booked in the books, the log still says draft",
    "after-credit": "Books.credit returned: the credit note exists, not logged",
    "inside-log-transaction": "the transfer row is written inside the open transaction (rolled back)",
    "before-commit": "the result, the event and the intent's closing are written, COMMIT not yet run",
    "after-commit": "the result is committed; the order's claim still held",
    "before-cursor": "every order committed; the cursor not moved",
}
HTTP_POINTS = ("before-request", "request-sent", "answer-received")
TEST_BOOKS = {"memory": "tests.contract.memory:MemoryBooks"}  # doubles the harness also runs

_hits = {"n": 0}
_lock = threading.Lock()
_saving = threading.local()


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


def books_class(config: Path) -> type:
    """The Books class the config's `accounting.system` names (through the registry)."""
    from iexsync import registry

    system = yaml.safe_load(config.read_text())["accounting"]["system"]
    return registry.load("books", system)


def arm(point: str, occurrence: int, books: type) -> None:
    from iexsync.http import Client
    from iexsync.store import Store

    if point not in POINTS:
        raise SystemExit(f"unknown point {point!r}; one of {', '.join(POINTS)}")
    unbooked = lambda self, ref, *a, **k: not ref.booked  # noqa: E731 - booking a booked ref is a lookup
    writes = lambda self, method, *a, **k: method.upper() in WRITES  # noqa: E731
    if point == "intent-committed":
        _wrap(Store, "open_intent", "after", occurrence)
    elif point == "before-create":
        _wrap(books, "create", "before", occurrence)
    elif point == "before-request":
        _wrap(Client, "request", "before", occurrence, only=writes)
    elif point == "answer-received":
        _wrap(Client, "request", "after", occurrence, only=writes)
    elif point == "request-sent":
        import urllib3.connection

        def is_write(conn: Any, *args: Any, **kwargs: Any) -> bool:
            options = getattr(conn, "_response_options", None)
            return bool(options and options.request_method in WRITES)

        _wrap(urllib3.connection.HTTPConnection, "getresponse", "before", occurrence, only=is_write)
    elif point == "after-create":
        _wrap(books, "create", "after", occurrence)
    elif point == "before-book":
        _wrap(books, "book", "before", occurrence, only=unbooked)
    elif point == "after-book":
        _wrap(books, "book", "after", occurrence, only=unbooked)
    elif point == "after-credit":
        _wrap(books, "credit", "after", occurrence)
    elif point == "inside-log-transaction":
        _wrap(Store, "save_transfer", "after", occurrence)
    elif point == "before-commit":
        _arm_before_commit(Store, occurrence)
    elif point == "after-commit":
        _wrap(Store, "release", "before", occurrence)
    elif point == "before-cursor":
        _wrap(Store, "set_cursor", "before", occurrence)


def _arm_before_commit(store: Any, occurrence: int) -> None:
    """Kill at the end of a transaction that saved a transfer, just before its COMMIT."""
    real_save = store.save_transfer
    real_transaction = store.transaction

    def save_transfer(self: Any, *args: Any, **kwargs: Any) -> Any:
        _saving.flag = True
        return real_save(self, *args, **kwargs)

    @contextmanager
    def transaction(self: Any) -> Any:
        _saving.flag = False
        with real_transaction(self):
            yield
            if getattr(_saving, "flag", False) and _hit(occurrence):
                _kill()

    store.save_transfer = save_transfer
    store.transaction = transaction


def config_path(args: list[str]) -> Path:
    for flag in ("--config", "-c"):
        if flag in args:
            return Path(args[args.index(flag) + 1])
    raise SystemExit("the crash harness needs --config FILE")


def main() -> None:
    point, occurrence, separator, *args = sys.argv[1:]
    assert separator == "--", "usage: POINT N -- iexsync arguments"
    from iexsync import registry

    registry.BOOKS.update(TEST_BOOKS)
    if point != "none":
        arm(point, int(occurrence), books_class(config_path(args)))
    from iexsync.cli import cli

    cli(args, prog_name="iexsync")


if __name__ == "__main__":
    main()
