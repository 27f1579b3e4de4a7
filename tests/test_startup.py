"""The short ways in: `sync` and `log search` read by `__main__` without click print what
the click commands print, import little, and leave every other command line to click."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from iexsync import commands
from iexsync.__main__ import _parse
from tests.conftest import run_process

SAME_BOTH_WAYS = [
    ("log", "search", "1006"),
    ("log", "search", "1006", "--json"),
    ("log", "search", "SOFIE.ANDERSEN@example.com", "--json", "--limit", "1"),
    ("log", "search", "no SKU", "--limit=5"),
    ("log", "search", "1007"),
    ("log", "search", "99999"),
    ("sync",),
    ("sync", "--verbose"),
    ("sync", "-v", "--order", "1009"),
    ("sync", "--dry-run", "--order=1001", "--order", "1009"),
]


@pytest.mark.parametrize("args", SAME_BOTH_WAYS, ids=" ".join)
def test_the_short_way_prints_what_click_prints(demo: Path, cli, args: tuple[str, ...]) -> None:
    cli("sync", "--config", demo)  # a log to search, a config that passed
    assert _parse([*args, "--config", str(demo)]) is not None  # the short way is taken
    for where in ("after", "before"):
        line = [*args, "--config", str(demo)] if where == "after" else ["-c", str(demo), *args]
        short = run_process(*line)
        long = cli(*line)
        assert (short.returncode, short.stdout, short.stderr) == (long.exit_code, long.stdout, long.stderr), line


def test_errors_are_said_the_same_way(demo: Path, cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    for args in (("log", "search", "1001"), ("sync",)):
        short, long = run_process(*args, "-c", missing), cli(*args, "-c", missing)
        assert short.returncode == long.exit_code == 78
        assert short.stderr == long.stderr and "no config file at" in short.stderr
    cli("sync", "--config", demo)
    log = demo.parent / "iexsync.db"
    log.unlink()
    log.write_text("")  # not a log: a clear error, not a traceback
    short, long = run_process("log", "search", "1001", "-c", demo), cli("log", "search", "1001", "-c", demo)
    assert short.returncode == long.exit_code == 75
    assert short.stderr == long.stderr and short.stderr.startswith("iexsync: cannot read the log at")


@pytest.mark.parametrize("args", [
    [], ["--help"], ["--version"], ["states"], ["log"], ["log", "search"], ["log", "search", "--help"],
    ["log", "search", "-x"], ["log", "search", "a", "b"], ["log", "search", "a", "--limit", "-1"],
    ["log", "search", "a", "--limit", "ten"], ["log", "--config", "c.yaml", "search", "a"],
    ["sync", "--bogus"], ["sync", "extra"], ["sync", "--order"], ["sync", "--json"], ["sync", "-c"],
    ["sync", "-vc", "c.yaml"], ["--config"], ["config", "check"], ["sync", "--", "x"],
], ids=repr)
def test_every_other_command_line_is_left_to_click(args: list[str]) -> None:
    assert _parse(args) is None


def test_a_config_that_is_a_folder_is_left_to_click(tmp_path: Path) -> None:
    assert _parse(["sync", "-c", str(tmp_path)]) is None
    result = run_process("sync", "-c", tmp_path)
    assert result.returncode == 2 and "is a directory" in result.stderr


def test_log_search_starts_with_little_imported(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    code = f"""
import sys
from iexsync.__main__ import run
assert run(["log", "search", "1006", "--config", {str(demo)!r}]) == 0
print(" ".join(sorted(sys.modules)))
"""
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = {"click", "yaml", "jsonschema", "jinja2", "tabulate", "requests", "dataclasses", "typing", "platformdirs",
             "iexsync.cli", "iexsync.config", "iexsync.store", "iexsync.engine", "iexsync.shops.file",
             "_hashlib",  # OpenSSL: the config cache's key is CPython's own BLAKE2
             "signal", "iexsync.registry",  # SIGTERM's handler through _signal; no connector is opened
             "json"}  # the config cache is marshal's; the table needs no JSON
    assert heavy.isdisjoint(loaded), heavy & set(loaded)


def test_an_idle_sync_imports_neither_click_nor_the_config_machinery(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    code = f"""
import sys
from iexsync.__main__ import run
run(["sync", "--config", {str(demo)!r}])
print(" ".join(sorted(sys.modules)))
"""
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert "iexsync.engine" in loaded  # it did run
    assert {"click", "yaml", "jsonschema", "tabulate", "iexsync.cli"}.isdisjoint(loaded)


def test_the_table_is_tabulates_for_the_logs_rows(demo: Path, cli) -> None:
    from tabulate import tabulate

    cli("sync", "--config", demo)
    from iexsync.store import Store

    store = Store(demo.parent / "iexsync.db", read_only=True)
    samples = [[[row[k] for k in commands.SEARCH_KEYS] for row in store.search(query)]
               for query in ("1001", "1003", "1006", "1007", "1009", "SKU", "invoice", "e")]
    store.close()
    pick = random.Random(7)
    words = ["order", "SKU", "×", "a-b", "", "x" * 90, "æøå", "\t", "line\nbreak", "  ", "\r\n", "a" * 70,
             "https://restapi.e-conomic.com/invoices/drafts/12345-a-long-hyphenated-path-that-goes-on-and-on"]
    for _ in range(500):
        samples.append([
            ["2026-01-01T00:00:00+00:00", pick.choice(["1001", "77", "", "WC-12", None, "-5"]),
             pick.choice(["completed", "", None]), pick.choice(["booked", "webhook done"]),
             pick.choice(["invoice 1", "", "credit note 12"]), " ".join(pick.choice(words) for _ in range(pick.randint(0, 30)))]
            for _ in range(pick.randint(1, 4))
        ])
    for rows in samples:
        expected = tabulate(rows, headers=commands.SEARCH_KEYS, maxcolwidths=[None] * 5 + [70])
        assert commands.table(rows, commands.SEARCH_KEYS, [None] * 5 + [70]) == expected, rows


def test_text_is_shown_as_stored() -> None:
    """Where tabulate would not: it reformats a column of decimal numbers ("25.00" → "25")."""
    table = commands.table([["25.00", "0012"]], ["message", "order"])
    assert table.splitlines()[2] == "25.00         0012"


def test_a_closed_output_ends_quietly(demo: Path, cli) -> None:
    """As click has it (`| head`): exit 1, and no traceback."""
    cli("sync", "--config", demo)
    for module in ("iexsync.__main__", "iexsync.cli"):  # the short way, and click's
        command = [sys.executable, "-c", f"from {module} import main; main()"]
        process = subprocess.Popen([*command, "log", "search", "invoice", "--config", str(demo)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        process.stdout.close()  # before it writes: it starts in tens of milliseconds
        assert (process.wait(timeout=60), process.stderr.read()) == (1, ""), module


def test_the_json_lists_the_same_rows_as_the_table(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    rows = json.loads(run_process("log", "search", "1006", "--json", "-c", demo).stdout)
    table = run_process("log", "search", "1006", "-c", demo).stdout.splitlines()
    assert len(table) == 2 + len(rows) and all(row["outcome"] in line for row, line in zip(rows, table[2:]))


def test_sigterm_is_handled_without_the_signal_modules_enums() -> None:
    """`on_sigterm` (every command's first act) installs its handler through _signal:
    signal.py builds three enums on import, a measurable part of a log search."""
    code = """
import os, sys
from iexsync.errors import Interrupted, on_sigterm
on_sigterm()
loaded = "signal" in sys.modules
try:
    os.kill(os.getpid(), 15)
    for _ in range(1000):
        pass
    print("not interrupted", loaded)
except Interrupted:
    print("interrupted", loaded)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["interrupted", "False"]


def test_an_idle_sync_into_e_conomic_opens_no_books(tmp_path: Path) -> None:
    """Cron's next run with nothing changed in the shop asks e-conomic nothing, so it imports
    none of its connector: the books open at their first use (service.BooksOnFirstUse)."""
    from tests.fakes.woocommerce import FakeWooCommerce, WooServer
    from tests.reliability.support import SECRETS, base_env, economic, make_orders, write_config

    with WooServer() as woo, economic() as (fake, books):
        shop = woo.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"]))
        for order in make_orders(tmp_path / "seed", 3):
            shop.add_order(order)
        config = write_config(tmp_path, books.url, shop={
            "platform": "woocommerce", "url": woo.url, "consumer_key": "${WC_CONSUMER_KEY}",
            "consumer_secret": "${WC_CONSUMER_SECRET}"})
        code = f"""
import sys
from iexsync.__main__ import run
assert run(["sync", "--config", {str(config)!r}]) == 0
print(" ".join(sorted(sys.modules)))
"""
        first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base_env())
        assert first.returncode == 0, first.stderr
        assert "iexsync.books.economic" in first.stdout.split()  # three orders went to the books
        written = len(books.requests)
        idle = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base_env())
        assert idle.returncode == 0, idle.stderr
        loaded = idle.stdout.split()
        assert "iexsync.engine" in loaded  # it did run
        assert len(books.requests) == written  # and asked e-conomic nothing
        assert not [name for name in loaded if name.startswith("iexsync.books.economic")], loaded


def test_books_that_cannot_be_opened_still_stop_the_run_before_any_order_is_written(tmp_path: Path) -> None:
    """Opened at their first use, the books' own checks (here: a ledger folder that cannot be
    made) still end the run with the config's exit code, before any order is recorded."""
    import sqlite3

    from tests.conftest import EXAMPLES, write_config

    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    (tmp_path / "blocker").write_text("a file where the ledger's folder should be")
    config = write_config(tmp_path / "config.yaml", {"accounting": {"path": "blocker/ledger.beancount"}})
    result = run_process("sync", "--config", config)
    assert result.returncode == 78, result.stderr
    assert "accounting.path: cannot make the folder" in result.stderr
    with sqlite3.connect(tmp_path / "iexsync.db") as db:
        assert db.execute("SELECT count(*) FROM transfers").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM cursors").fetchone() == (0,)
