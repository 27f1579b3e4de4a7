"""`iexsync import --from DATE`: old orders through the same rules, a progress bar on a
terminal only, a closing report, and Ctrl-C / kill -9 then a rerun without duplicates."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

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


def _spawn_on_a_terminal(*args: str, columns: int = 100) -> tuple[int, int]:
    import fcntl
    import struct
    import termios

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the terminal's own size
    pid, fd = pty.fork()
    if pid == 0:  # the child: iexsync on a terminal `columns` wide
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "iexsync", *args], env)
    return pid, fd


def _read_until(fd: int, wanted: Callable[[bytes], bool], timeout: float) -> bytes:
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
            if wanted(seen):
                return seen
    return seen


def _finish(pid: int, fd: int) -> tuple[int, bytes]:
    rest = _read_until(fd, lambda _seen: False, 600)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), rest


_POSITION = re.compile(rb"(\d+)/(\d+)")


def _position(seen: bytes) -> int:
    """How far the progress bar says the import is (its last count drawn)."""
    found = _POSITION.findall(seen)
    return int(found[-1][0]) if found else 0


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "examples" not in p.parts}


def _import_window_of(demo: Path, count: int) -> tuple[list[str], list[str], list[str]]:
    """`count` old orders: a few without a SKU (they fail), a few pending (skipped), the rest good."""
    numbers = _old_orders(demo, count)
    folder = demo.parent / "examples" / "orders"
    no_sku, pending = numbers[7::count // 3], numbers[11::count // 3]
    for number in no_sku + pending:
        path = folder / f"{number}.json"
        order = json.loads(path.read_text())
        if number in no_sku:
            order["line_items"][0]["sku"] = ""
        else:
            order["status"] = "pending"
        path.write_text(json.dumps(order))
    return [n for n in numbers if n not in no_sku + pending], no_sku, pending


def _interrupt_and_resume(demo: Path, count: int) -> None:
    """Issue 12's "done when": an import of `count` old orders shows a progress bar (count,
    rate, ETA) on a terminal; Ctrl-C part way (seen on the bar) exits 130 and says how far it
    got, leaving no temporary file; run again through a pipe (no bar) it carries on, books
    each order once and ends with the whole window's report."""
    good, no_sku, pending = _import_window_of(demo, count)
    total = count + 10  # the demo's own ten orders are in the window too
    columns = 72
    pid, fd = _spawn_on_a_terminal("import", "--config", str(demo), "--from", "2025-01-01", columns=columns)
    shown = _read_until(fd, lambda seen: _position(seen) >= total // 3, 600)
    os.kill(pid, signal.SIGINT)
    code, rest = _finish(pid, fd)
    output = (shown + rest).decode()
    assert code == 130, output
    assert f"/{total}" in output and "orders/s" in output, output  # the count of the whole window, the rate
    assert re.search(r"orders/s  ETA \d+:\d\d:\d\d", shown.decode()), shown  # the rate, the time left
    bars = [line for line in re.split(r"[\r\n]", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)) if "importing" in line]
    assert len(bars) > 1 and max(len(line.rstrip()) for line in bars) <= columns, max(bars, key=len)  # never wraps
    done = int(re.search(r"interrupted: (\d+) done, the next run carries on", output).group(1))
    assert total // 3 <= done < total, output
    ledger = demo.parent / "books" / "ledger.beancount"
    assert len(Counter(ledger_entries(ledger))) < total
    after_interrupt = _files(demo.parent)

    resumed = run_process("import", "--config", demo, "--from", "2025-01-01", timeout=600)
    assert resumed.returncode == 1, resumed.stderr  # the orders without a SKU failed
    assert "importing" not in resumed.stderr + resumed.stdout and "orders/s" not in resumed.stderr  # piped: no bar
    assert after_interrupt == _files(demo.parent)  # the interrupted run left nothing a whole run does not
    report = resumed.stdout
    assert f"import of the orders created from 2025-01-01: {total} orders" in report
    transferred = int(re.search(r"  transferred: (\d+)", report).group(1))
    earlier = int(re.search(r"  already done by an earlier run: (\d+)", report).group(1))
    assert 0 < transferred < total and earlier >= done - len(no_sku) - len(pending) - 3
    assert f"    missing SKU: {', '.join(sorted(['1009', *no_sku], key=int))}" in report, report
    assert f"    Order state not allowed: {', '.join(sorted(['1007', '1008', *pending], key=int))}" in report, report
    assert f"  failed: {len(no_sku) + 1} (`iexsync log show ORDER` says why)" in report

    entries = Counter(ledger_entries(ledger))
    assert [ref for ref, n in entries.items() if n > 1] == []  # no duplicates
    mine = [ref.split(":")[2] for ref in entries if int(ref.split(":")[2]) >= 5000]
    assert sorted(mine) == sorted(good)  # one document per good order, none for the others


def test_an_import_interrupted_on_a_terminal_carries_on_without_duplicates(demo: Path) -> None:
    _interrupt_and_resume(demo, 300)


@pytest.mark.slow  # the full size: ~25 s alone, minutes on a loaded machine
def test_an_import_of_5000_orders_interrupted_and_resumed(demo: Path) -> None:
    _interrupt_and_resume(demo, 5000)


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


def test_sigterm_mid_import_through_a_pipe_exits_130_and_says_how_far(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    _old_orders(demo, 300)
    ledger = demo.parent / "books" / "ledger.beancount"
    process = subprocess.Popen([sys.executable, "-m", "iexsync", "import", "--config", str(demo), "--from", "2025-01-01"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(ledger_entries(ledger)) < 30:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    done = int(re.search(r"interrupted: (\d+) done, the next run carries on", err).group(1))
    assert 30 <= done < 310 and "Traceback" not in err and "importing" not in err  # piped: no bar
    assert f": {done} orders" in out  # the report of what was done
    assert [p.name for p in ledger.parent.iterdir()] == ["ledger.beancount"]
