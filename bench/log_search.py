"""Figure 4: `iexsync log search <number>` over a million log rows.

All with the real schema and indexes (Store's migrations), and a config that passed before
(as every search after the first finds it):

- the whole `iexsync log search` process ÷ the same indexed query in the `sqlite3`
  command-line shell (also a whole process): information only, since no Python program
  can come near it: see the floor below.
- the floor (info): a bare `python -I -S` process (no site, no venv's .pth files) that
  imports sqlite3, runs the same query and prints the rows, ÷ the sqlite3 shell. The
  interpreter alone starts in ~10 ms where the shell answers in ~3, so this is what any
  Python tool's ratio to the shell can come down to at best.
- the fair limit for a Python tool: a bare Python process as a user's would run
  (`python -c "import sqlite3, textwrap; …"`, site and the venv included) running the
  same query and printing the same table (checked: byte for byte iexsync's output).
  Everything iexsync adds on top — its command line, the config, its own modules, the
  deliveries it looks up beside the events — is what this ratio shows. Goal ≤ 1.2.
- in-process: Store.search ÷ the bare query on an open connection (the query plan and
  what Store does around it, without any start-up), medians of batches taken in turn.

The process figures are medians, the commands taking turns run by run. The processes run
with their bytecode cached (a private PYTHONPYCACHEPREFIX, written in the warm-up round),
as an installed package's is: where PYTHONDONTWRITEBYTECODE is set, iexsync would otherwise
compile its own modules from source on every run while the libraries it is compared with
load their installed bytecode. A note gives the iexsync process without that cache.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure, alternating_medians, iexsync_command, note, time_alternating

CONFIG = """\
shop: {platform: file, path: orders}
accounting: {system: beancount, path: ledger.beancount}
transfer: {allowed_states: [completed]}
log: {path: iexsync.db}
"""

BARE = """\
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchall()
for row in rows:
    print("|".join(map(str, row)))
"""

# The same rows as iexsync's table: times in this machine's zone, a header over dashes,
# columns two apart, whole numbers right-aligned, the message wrapped at 70.
BARE_TABLE = """\
import sqlite3, sys, textwrap
from datetime import datetime
rows = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchall()
head = ("time", "order", "state", "outcome", "document", "message")
cells = [[datetime.fromisoformat(t).astimezone().strftime("%Y-%m-%d %H:%M:%S"), n or i, s, o, " ".join(p for p in ((k or "").replace("_", " "), d or "") if p),
          "\\n".join(textwrap.wrap(m, 70))] for t, n, i, s, o, k, d, m in rows]
cols = []
for c, h in enumerate(head):
    lines = [r[c].split("\\n") for r in cells]
    right = all(r[c].isdigit() for r in cells if r[c])
    cols.append((lines, max([len(h) + 2] + [len(x) for ls in lines for x in ls]), right))
def fit(text, width, right):
    return text.rjust(width) if right else text.ljust(width)
out = ["  ".join(fit(h, w, r) for h, (_, w, r) in zip(head, cols)).rstrip(), "  ".join("-" * w for _, w, _ in cols)]
for n in range(len(cells)):
    for k in range(max(len(ls[n]) for ls, _, _ in cols)):
        out.append("  ".join(fit(ls[n][k] if k < len(ls[n]) else "", w, r) for ls, w, r in cols).rstrip())
print("\\n".join(out))
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
        repeat = 5 if quick else 31  # a process's time varies by some ms run to run: 31 turns hold the median
        search = [*iexsync_command(), "log", "search", number, "--config", str(folder / "config.yaml")]
        commands = {
            "iexsync": search,
            "sqlite3": ["sqlite3", str(db_path), query],
            "python": [sys.executable, "-c", BARE_TABLE, str(db_path), query],
            "python -I -S": [sys.executable, "-I", "-S", "-c", BARE, str(db_path), query],
        }
        if not shutil.which("sqlite3"):
            del commands["sqlite3"]
            note("no sqlite3 shell on this machine: the issue's figure and the floor are left out")
        bytecode = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(folder / "bytecode")}
        printed = {name: subprocess.run(commands[name], capture_output=True, text=True, check=True).stdout
                   for name in ("iexsync", "python")}
        if printed["iexsync"] != printed["python"]:
            raise RuntimeError("the bare Python table differs from iexsync's:\n" + printed["python"][:400] +
                               "\n---\n" + printed["iexsync"][:400])
        times = time_alternating(commands, repeat, env=bytecode)
        note("medians: " + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in times.items()))
        uncached = time_alternating({"iexsync": search, "python": commands["python"]}, min(repeat, 15),
                                    env={"PYTHONDONTWRITEBYTECODE": "1"})
        note(f"without a bytecode cache (PYTHONDONTWRITEBYTECODE=1): iexsync {uncached['iexsync'] * 1000:.1f} ms, "
             f"python {uncached['python'] * 1000:.1f} ms, ratio {uncached['iexsync'] / uncached['python']:.2f}")

        from iexsync.store import Store

        store = Store(db_path, read_only=True)
        raw = sqlite3.connect(db_path)
        # A few microseconds a call: batches of 50, taken in turn, 41 rounds.
        medians = alternating_medians({"Store.search": lambda: store.search(number),
                                       "bare": lambda: raw.execute(query).fetchall()}, rounds=41, batch=50)
        in_process, raw_query = medians["Store.search"], medians["bare"]
        store.close()
        raw.close()
        figures = []
        if "sqlite3" in times:
            figures.append(Figure(f"log search, {rows:,} rows: iexsync process ÷ sqlite3 shell",
                                  times["iexsync"], times["sqlite3"], None))
            figures.append(Figure(f"log search, {rows:,} rows: the floor, python -I -S + the query ÷ sqlite3 shell",
                                  times["python -I -S"], times["sqlite3"], None))
        figures += [
            Figure(f"log search, {rows:,} rows: iexsync process ÷ bare python process, same query and table",
                   times["iexsync"], times["python"], 1.2),
            Figure(f"log search, {rows:,} rows: Store.search ÷ the bare indexed query", in_process, raw_query, 3.0),
        ]
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)
