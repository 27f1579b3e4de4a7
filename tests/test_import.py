"""`iexsync import --from DATE`: old orders through the same rules, a progress bar on a
terminal only, a closing report, and Ctrl-C / kill -9 then a rerun without duplicates."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.conftest import EXAMPLES, ledger_entries, make_orders, run_process, write_config
from tests.test_economic_support import economic_server, fake, write_economic_config  # noqa: F401


def _old_orders(demo: Path, count: int) -> list[str]:
    """`count` orders created in 2025, before the demo's start date 2026-01-01."""
    folder = demo.parent / "examples" / "orders"
    numbers = make_orders(folder, count)
    for number in numbers:
        path = folder / f"{number}.json"
        order = json.loads(path.read_text())
        for key in ("date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "date_completed",
                    "date_completed_gmt", "date_paid", "date_paid_gmt"):
            if order.get(key):
                order[key] = "2025-06-01" + order[key][10:]
        path.write_text(json.dumps(order))
    return numbers


def test_import_takes_the_window_through_the_same_rules_and_reports(demo: Path, cli) -> None:
    numbers = _old_orders(demo, 3)
    synced = cli("sync", "--config", demo)
    assert synced.exit_code == 1  # 1009
    ledger = demo.parent / "books" / "ledger.beancount"
    assert not any(f":{n}:" in ref for n in numbers for ref in ledger_entries(ledger))  # before start_date
    result = cli("import", "--config", demo, "--from", "2025-05-01", "--to", "2025-12-31")
    assert result.exit_code == 0, result.output
    # The three, and the demo's 1010, created 2025-12-20: before the start date too.
    assert "import of the orders created 2025-05-01 to 2025-12-31: 4 orders" in result.output
    assert "  transferred: 4" in result.output
    assert Counter(ledger_entries(ledger))[f"iexsync:woocommerce:{numbers[0]}:invoice"] == 1
    whole = json.loads(cli("import", "--config", demo, "--from", "2025-01-01", "--json").output)
    assert whole["orders"] == 13 and whole["transferred"] == []  # everything was done already
    assert whole["failed"] == {"missing SKU": ["1009"]}
    assert whole["skipped"] == {"Order state not allowed": ["1007", "1008"]}
    assert "importing" not in result.output  # no progress bar through a pipe
    # The import's errors are not taken as cron's to retry every run, nor its cursor as cron's.
    again = run_process("sync", "--config", demo)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_import_usage_errors_exit_2(demo: Path, cli) -> None:
    assert cli("import", "--config", demo).exit_code == 2
    assert cli("import", "--config", demo, "--from", "last year").exit_code == 2
    assert cli("import", "--config", demo, "--from", "2025-02-01", "--to", "2025-01-01").exit_code == 2
    assert not (demo.parent / "iexsync.db").exists()


def test_a_dry_run_import_writes_nothing_anywhere(tmp_path: Path, fake, economic_server, cli) -> None:  # noqa: F811
    shutil.copytree(EXAMPLES, tmp_path / "orders")
    path = write_economic_config(tmp_path, economic_server.url)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = cli("import", "--config", path, "--from", "2026-01-01", "--dry-run", "--json")
    assert result.exit_code == 1, result.output  # 1009 would fail
    report = json.loads(result.output)
    assert report["dry_run"] is True and sorted(report["transferred"]) == ["1001", "1002", "1003", "1004", "1005", "1006"]
    assert {r.method for r in economic_server.requests} <= {"GET"}  # e-conomic saw only reads
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no log, no lock, nothing


def _spawn_on_a_terminal(*args: str) -> tuple[int, int]:
    pid, fd = pty.fork()
    if pid == 0:  # the child: iexsync on a terminal
        os.execv(sys.executable, [sys.executable, "-m", "iexsync", *args])
    return pid, fd


def _read_until(fd: int, wanted: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if wanted in seen:
                return seen
    return seen


def _finish(pid: int, fd: int) -> tuple[int, bytes]:
    rest = _read_until(fd, b"\x00never", 60)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), rest


def test_ctrl_c_on_a_terminal_exits_130_and_the_next_import_carries_on(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    numbers = _old_orders(demo, 250)
    pid, fd = _spawn_on_a_terminal("import", "--config", str(demo), "--from", "2025-01-01")
    shown = _read_until(fd, b"orders/s", 60)
    assert b"importing" in shown and b"/260" in shown, shown  # count of the whole window, the rate
    os.kill(pid, signal.SIGINT)
    code, rest = _finish(pid, fd)
    output = (shown + rest).decode()
    assert code == 130, output
    assert "interrupted: " in output and " done, the next run carries on" in output
    done = int(output.split("interrupted: ")[1].split(" done")[0])
    assert 0 < done < 260
    folder = demo.parent / "books"
    assert [p.name for p in folder.iterdir()] == ["ledger.beancount"]  # no temporary file left
    assert len(ledger_entries(folder / "ledger.beancount")) < 260 + 2
    resumed = run_process("import", "--config", demo, "--from", "2025-01-01")
    assert resumed.returncode == 0, resumed.stderr
    assert "importing" not in resumed.stderr + resumed.stdout  # piped: no bar
    assert "already done by an earlier run:" in resumed.stdout
    entries = Counter(ledger_entries(folder / "ledger.beancount"))
    assert all(count == 1 for count in entries.values())
    assert {f"iexsync:woocommerce:{n}:invoice" for n in numbers} <= set(entries)


def test_killed_mid_import_then_rerun_books_each_order_once(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    numbers = _old_orders(demo, 200)
    ledger = demo.parent / "books" / "ledger.beancount"
    process = subprocess.Popen([sys.executable, "-m", "iexsync", "import", "--config", str(demo), "--from", "2025-01-01"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(ledger_entries(ledger)) < 20:
        time.sleep(0.05)
    process.kill()
    assert process.wait() == -signal.SIGKILL, "the import finished before the kill: nothing was interrupted"
    assert len(ledger_entries(ledger)) < 200 + 12
    resumed = run_process("import", "--config", demo, "--from", "2025-01-01")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    entries = Counter(ledger_entries(ledger))
    assert all(count == 1 for count in entries.values()), [r for r, c in entries.items() if c > 1]
    assert {f"iexsync:woocommerce:{n}:invoice" for n in numbers} <= set(entries)
