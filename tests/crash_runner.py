"""Run the real `iexsync` CLI in this process and kill -9 it at a named point.

    python -m tests.crash_runner POINT N -- sync --config FILE

POINT is where (see POINTS), N which occurrence (1 = the first). The kill is a real
SIGKILL of this process: no cleanup, no finally blocks, no flushing — exactly what a
crash, an OOM kill or a power cut does to a run. Nothing in iexsync is replaced: the
points are wrappers that kill, then (if still alive) call the real method.
"""

from __future__ import annotations

import os
import signal
import sys

from iexsync import registry
from iexsync.books.beancount import BeancountBooks
from iexsync.store import Store

POINTS = {
    # name: (class, method, before or after the real call)
    "intent-committed": (Store, "open_intent", "after"),
    "before-create": (BeancountBooks, "create", "before"),
    "after-create": (BeancountBooks, "create", "after"),  # written remotely, not yet recorded
    "before-book": (BeancountBooks, "book", "before"),
    "after-book": (BeancountBooks, "book", "after"),
    "after-credit": (BeancountBooks, "credit", "after"),
    "inside-log-transaction": (Store, "save_transfer", "after"),  # mid-transaction: rolled back
    "before-release": (Store, "release", "before"),  # result committed, claim still held
    "before-cursor": (Store, "set_cursor", "before"),
}


def arm(point: str, occurrence: int) -> None:
    cls, name, when = POINTS[point]
    real = getattr(cls, name)
    seen = {"n": 0}

    def wrapper(self, *args, **kwargs):
        seen["n"] += 1
        hit = seen["n"] == occurrence
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(self, *args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(cls, name, wrapper)


def main() -> None:
    point, occurrence, separator, *args = sys.argv[1:]
    assert separator == "--"
    arm(point, int(occurrence))
    registry.BOOKS["beancount"] = "iexsync.books.beancount:BeancountBooks"
    from iexsync.cli import cli

    cli(args, prog_name="iexsync")


if __name__ == "__main__":
    main()
