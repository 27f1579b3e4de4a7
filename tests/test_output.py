"""Output that fits terminals and scripts, and exit codes as the README's table says them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import make_orders, run_process, write_config
from tests.test_woocommerce_sync import ENV, config as woo_config
from tests.fakes.woocommerce import FakeWooCommerce


def test_config_is_accepted_on_command_groups(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    for line in (("log", "-c", demo, "search", "1001"), ("config", "-c", demo, "check"),
                 ("log", "--config", demo, "show", "1001")):
        result = cli(*line)
        assert result.exit_code == 0, (line, result.output)
    assert "1001" in cli("log", "-c", demo, "search", "1001", "--json").output


def test_json_on_states_and_the_sync_summary(demo: Path, cli) -> None:
    states = json.loads(cli("states", "--config", demo, "--json").output)
    assert {"state": "completed", "orders": 7, "allowed": True, "becomes": "invoice, booked"} in states
    result = cli("sync", "--config", demo, "--json")
    summary = json.loads(result.output)
    assert result.exit_code == 1 and summary["orders_seen"] == 10 and summary["counts"]["error"] == 1
    assert {e["order"] for e in summary["events"] if e["outcome"] == "error"} == {"1009"}


def test_dry_run_stdout_is_json_alone_and_nothing_is_created(demo: Path) -> None:
    folder = demo.parent
    before = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    result = run_process("sync", "--config", demo, "--dry-run")
    planned = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert len(planned) > 5 and "orders read" in result.stderr
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == before


def test_webhook_register_with_a_bad_url_is_a_usage_error(tmp_path: Path, server, cli) -> None:
    server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    path = woo_config(tmp_path, server, webhook_secret="whsec-" + "ab" * 10)
    for url in ("not a url", "http://books.example.com/webhooks/woocommerce"):
        result = cli("webhook", "register", "--config", path, "--url", url, env=ENV)
        assert result.exit_code == 2, result.output


def test_sigterm_stops_a_run_cleanly_and_the_next_finishes_it(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    make_orders(demo.parent / "examples" / "orders", 300)
    ledger = demo.parent / "books" / "ledger.beancount"
    process = subprocess.Popen([sys.executable, "-m", "iexsync", "sync", "--config", str(demo)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not ledger.exists() or ledger.read_text().count("iexsync-ref") < 10):
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "iexsync: interrupted; the next run carries on" in err and "Traceback" not in err
    assert [p.name for p in ledger.parent.iterdir()] == ["ledger.beancount"]
    again = run_process("sync", "--config", demo)
    assert again.returncode == 0, again.stderr
    refs = [line for line in ledger.read_text().splitlines() if line.startswith("  iexsync-ref:")]
    assert len(refs) == len(set(refs)) and len(refs) >= 300


def test_ctrl_c_says_the_same_both_ways(demo: Path) -> None:
    make_orders(demo.parent / "examples" / "orders", 300)
    write_config(demo, {"transfer": {"require_sku": False}})
    for args in (["sync", "--config", str(demo)], ["sync", "--config", str(demo), "--json"]):  # short way, click
        ledger = demo.parent / "books" / "ledger.beancount"
        count = ledger.read_text().count("iexsync-ref") if ledger.exists() else 0
        process = subprocess.Popen([sys.executable, "-m", "iexsync", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not ledger.exists() or ledger.read_text().count("iexsync-ref") < count + 5):
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, (args, err)
        assert err.strip().endswith("iexsync: interrupted; the next run carries on"), err


def test_verbosity_minus_q_and_minus_vv(tmp_path: Path, server) -> None:
    from tests.conftest import EXAMPLES
    from tests.fakes.server import Fault

    fake = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    fake.load_orders_dir(EXAMPLES)
    path = woo_config(tmp_path, server)
    failed_once: list[str] = []

    def one_503(record):  # a read that fails once: urllib3 retries it, and says so in its log
        if record.method == "GET" and not failed_once:
            failed_once.append(record.path)
            return Fault("status", 503)
        return None

    server.faults = one_503
    try:
        plain = run_process("sync", "--config", path, env=ENV)
    finally:
        server.faults = None
    assert failed_once and plain.returncode == 1
    assert "Retrying" not in plain.stderr and "urllib3" not in plain.stderr  # no library noise, raw or not
    quiet = run_process("sync", "--config", path, "--order", "1009", "-q", env=ENV)
    assert quiet.returncode == 1 and quiet.stdout == "" and "has no SKU" in quiet.stderr
    chatty = run_process("sync", "--config", path, "-vv", env=ENV)
    assert "GET /wp-json/wc/v3/orders" in chatty.stderr and '" 200 ' in chatty.stderr
    for secret in ENV.values():
        assert secret not in chatty.stderr + chatty.stdout


def _on_a_terminal(args: list[str], columns: int, env: dict | None = None) -> str:
    import fcntl
    import pty
    import struct
    import termios

    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}  # the terminal's own size
    environ.update(env or {})
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "iexsync", *args], environ)
    output = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return output.decode().replace("\r\n", "\n")


def test_tables_fit_the_terminal_in_local_time(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    found = json.loads(cli("log", "search", "1009", "--config", demo, "--json").output)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(found[0]["time"]).astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S")
    for columns in (80, 120):
        text = _on_a_terminal(["log", "search", "1009", "--config", str(demo)], columns, {"TZ": "Asia/Tokyo"})
        lines = [line for line in text.splitlines() if line]
        assert len(lines) > 3 and max(len(line) for line in lines) <= columns, text
        assert lines[2].startswith(local)
        assert "has no" in text and "SKU" in text  # wrapped, not cut: words whole
    piped = run_process("log", "search", "1009", "--config", demo)  # a pipe: the 70-wide message column
    assert max(len(line) for line in piped.stdout.splitlines()) > 80


def test_format_gives_tabulates_layouts(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    github = cli("log", "search", "1006", "--config", demo, "--format", "github").output
    assert github.splitlines()[0].startswith("| time") and github.splitlines()[1].startswith("|---")
    grid = cli("states", "--config", demo, "--format", "grid").output
    assert grid.startswith("+--") and "| completed" in grid
    assert cli("states", "--config", demo, "--format", "fancy-nonsense").exit_code == 2
