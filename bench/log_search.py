"""`iexsync log search <number>` over a million log rows, against the same indexed query in
the `sqlite3` shell (both whole processes, Python's start-up included)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import Figure, iexsync_command, time_process

CONFIG = """\
shop: {platform: file, path: orders}
accounting: {system: beancount, path: ledger.beancount}
transfer: {allowed_states: [completed]}
log: {path: iexsync.db}
"""


def build_log(folder: Path, rows: int) -> Path:
    from iexsync.store import Store

    path = folder / "iexsync.db"
    Store(path).close()  # the real schema, indexes and migrations
    db = sqlite3.connect(path)
    outcomes = ("transferred", "booked", "skipped", "error", "updated")
    with db:
        db.executemany(
            "INSERT INTO events (time, run, order_id, order_number, state, outcome, document_kind, document_number, "
            "message, email, source, target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (f"2026-01-01T00:00:{i % 60:02d}+00:00", f"run{i // 1000}", str(100000 + i // 5), str(100000 + i // 5),
                 "completed", outcomes[i % 5], "invoice", str(i // 5), f"Transferred as invoice {i // 5}",
                 f"customer{i % 5000}@example.com", None, None)
                for i in range(rows)
            ),
        )
    db.close()
    return path


def run(quick: bool) -> list[Figure]:
    rows = 100_000 if quick else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-search-"))
    try:
        (folder / "orders").mkdir()
        (folder / "config.yaml").write_text(CONFIG)
        db_path = build_log(folder, rows)
        number = str(100000 + rows // 10)
        query = (f"SELECT time, order_number, order_id, state, outcome, document_kind, document_number, message "
                 f"FROM events WHERE order_number = '{number}' ORDER BY id DESC LIMIT 200;")
        repeat = 5 if quick else 9
        ours = time_process([*iexsync_command(), "log", "search", number, "--config", str(folder / "config.yaml")], repeat)
        shell = time_process(["sqlite3", str(db_path), query], repeat)

        from iexsync.store import Store

        store = Store(db_path, read_only=True)
        start = time.perf_counter()
        for _ in range(100):
            store.search(number)
        in_process = (time.perf_counter() - start) / 100
        store.close()
        raw = sqlite3.connect(db_path)
        start = time.perf_counter()
        for _ in range(100):
            raw.execute(query).fetchall()
        raw_query = (time.perf_counter() - start) / 100
        return [
            Figure(f"log search, {rows:,} rows: iexsync process ÷ sqlite3 shell", ours, shell, 3.0),
            Figure(f"log search, {rows:,} rows: Store.search ÷ the bare indexed query", in_process, raw_query, 3.0),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
