"""Import into Beancount: flat cost per order, and what the ledger itself costs.

One real `iexsync sync` process imports 10,000 completed orders (300 with --quick) from
a folder (the file shop: the fake WooCommerce's generated orders, every one completed, so
each is an invoice created and booked: the path that once re-read and rewrote the ledger
twice per order; refunds left out) into a Beancount ledger. The log already holds one
transfer (a first run imported one order alone), as in steady state.

- flatness: while the import runs, this process reads what the ledger gains every 10 ms
  and notes when each entry appeared. Seconds per order over the last 1,000 entries ÷
  over the first 1,000 (30 with --quick). Start-up is outside both windows. A ledger
  re-read or rewritten per booking grows this with the import (once ~30); goal ≤ 1.5.
- the ledger's cost: the whole import process into Beancount ÷ the same import into books
  held in memory (bench/books_double.py: a dict, `max_workers` 1 like the ledger). Both
  logs and the ledger are on tmpfs when there is one (/dev/shm), as in the other
  figures: fsync costs nothing there, so this is the ledger's own work (index, render,
  append), not the disk's. Goal ≤ 2.0.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import servers
from bench.common import REPO, Figure, note

POLL = 0.01
MARK = b"\n  iexsync-ref: "


class LedgerWatch:
    """When each entry appeared in a growing ledger: (seconds, entries so far) samples."""

    def __init__(self, path: Path):
        self.path = path
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "LedgerWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        offset, count, carry = 0, 0, b""
        while True:
            stopping = self._stop.is_set()
            try:
                with open(self.path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
            except FileNotFoundError:
                data = b""
            if data:
                offset += len(data)
                joined = carry + data
                count += joined.count(MARK)
                carry = joined[-(len(MARK) - 1):]
                self.samples.append((time.perf_counter(), count))
            if stopping:
                return
            time.sleep(POLL)

    def time_at(self, entries: int) -> float:
        """When the ledger first held `entries` entries."""
        return next(when for when, count in self.samples if count >= entries)


def _orders(count: int, first_id: int) -> list[dict]:
    shop = servers.new_shop()
    raws = []
    for order_id in shop.generate(count, first_id=first_id):
        raw = shop.order_json(order_id)
        raw.pop("refunds", None)
        raw["status"] = "completed"
        raws.append(raw)
    return raws


def _workspace(folder: Path, raws: list[dict], accounting: dict) -> Path:
    """A folder shop holding the first order, a config, the log seeded by importing it."""
    orders = folder / "orders"
    orders.mkdir(parents=True)
    config = servers.write_config(folder, {"platform": "file", "path": "orders"}, accounting)
    (orders / f"{raws[0]['id']}.json").write_text(json.dumps(raws[0]))
    return config


def _run(config: Path, command: list[str] | None = None) -> servers.Run:
    if command is None:
        run = servers.run_iexsync(["sync", "--config", str(config)])
    else:
        run = servers.run_iexsync(["sync", "--config", str(config)], command=command, cwd=REPO)
    if run.returncode != 0:
        raise RuntimeError(f"iexsync sync exited {run.returncode}: {(run.stderr or run.stdout)[-800:]}")
    return run


def _import(folder: Path, raws: list[dict], accounting: dict, command: list[str] | None = None,
            watch: Path | None = None) -> tuple[servers.Run, LedgerWatch | None]:
    config = _workspace(folder, raws, accounting)
    _run(config, command)  # the seed: the log holds a transfer, as in steady state
    for raw in raws[1:]:
        (folder / "orders" / f"{raw['id']}.json").write_text(json.dumps(raw))
    if watch is None:
        return _run(config, command), None
    with LedgerWatch(watch) as watcher:
        run = _run(config, command)
    return run, watcher


def run(quick: bool) -> list[Figure]:
    orders = 300 if quick else 10_000
    window = orders // 10
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-beancount-", dir=base))
    try:
        raws = _orders(orders + 1, 200_000)
        ledger = folder / "beancount" / "ledger.beancount"
        into_ledger, watcher = _import(folder / "beancount", raws, {"system": "beancount", "path": "ledger.beancount",
                                                                  **servers.IN_USD}, watch=ledger)
        assert watcher is not None
        seeded = 1
        first = (watcher.time_at(seeded + 1 + window) - watcher.time_at(seeded + 1)) / window
        last = (watcher.time_at(seeded + orders) - watcher.time_at(seeded + orders - window)) / window
        into_memory, _ = _import(folder / "memory", raws, {"system": "memory"},
                                 command=[sys.executable, "-m", "bench.books_double"])
        note(f"{orders:,} orders into Beancount in {into_ledger.seconds:.1f} s "
             f"({orders / into_ledger.seconds:.0f}/s; first {window:,}: {1 / first:.0f}/s, last {window:,}: "
             f"{1 / last:.0f}/s; ledger {ledger.stat().st_size / 1e6:.1f} MB); into memory in {into_memory.seconds:.1f} s")
        return [
            Figure(f"Beancount import of {orders:,} orders: s/order, last {window:,} ÷ first {window:,}", last, first, 1.5),
            Figure(f"Beancount import of {orders:,} orders ÷ the same into books in memory", into_ledger.seconds,
                   into_memory.seconds, 2.0),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
