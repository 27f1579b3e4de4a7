"""Bad input gets a clear error and loses nothing: one bad order never stops the others."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from tests.conftest import ledger_entries, make_orders, run_process, write_config


def workspace(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "orders"
    make_orders(folder, 3)
    config = write_config(tmp_path / "config.yaml", {"shop": {"path": "orders"}})
    return folder, config


def events(cli, config: Path, query: str) -> list[dict]:
    return json.loads(cli("log", "search", query, "--config", config, "--json").output)


def test_malformed_json_file_is_an_error_for_it_alone(tmp_path: Path, cli) -> None:
    folder, config = workspace(tmp_path)
    (folder / "broken.json").write_text('{"id": 77, "status": "completed", ')
    result = cli("sync", "--config", config)
    assert result.exit_code == 1
    assert len(ledger_entries(tmp_path / "books" / "ledger.beancount")) == 3
    [event] = events(cli, config, "file:broken.json")
    assert event["outcome"] == "error"
    assert "broken.json is not a readable JSON order" in event["message"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda o: o.pop("total"), "total is missing"),
        (lambda o: o.update(total="abc"), "total is 'abc', expected a number"),
        (lambda o: o.update(total="NaN"), "total is 'NaN', expected a finite number"),
        (lambda o: o.update(total="1e30"), "which is too large to be an amount"),
        (lambda o: o["line_items"][0].update(quantity=-2), "line_items[0].quantity is -2; an order line needs a positive quantity"),
        (lambda o: o.update(line_items="lamp"), "line_items is 'lamp', expected a list"),
        (lambda o: o.update(currency="kroner"), "currency is 'kroner', expected a 3-letter ISO code"),
        (lambda o: o.update(date_created_gmt="yesterday"), "date_created_gmt is 'yesterday', expected a date and time"),
        (lambda o: o["billing"].update(country="Denmark"), "billing.country is 'Denmark', expected a 2-letter ISO code"),
        (lambda o: o.update(total="1746.25"), "the shop's total is 1746.25 DKK, +100.00 apart"),
    ],
)
def test_a_bad_order_is_logged_with_what_to_fix(tmp_path: Path, cli, change, message) -> None:
    folder, config = workspace(tmp_path)
    bad = json.loads((folder / "5000.json").read_text())
    bad["id"], bad["number"] = 6000, "6000"
    change(bad)
    (folder / "6000.json").write_text(json.dumps(bad))
    result = cli("sync", "--config", config)
    assert result.exit_code == 1
    assert sorted(ledger_entries(tmp_path / "books" / "ledger.beancount")) == [
        f"iexsync:woocommerce:{n}:invoice" for n in (5000, 5001, 5002)
    ]
    [event] = events(cli, config, "6000")
    assert event["outcome"] == "error"
    assert message in event["message"]


def test_unknown_state_is_skipped_once(tmp_path: Path, cli) -> None:
    folder, config = workspace(tmp_path)
    order = json.loads((folder / "5000.json").read_text())
    order["status"] = "wc-awaiting-pickup"
    (folder / "5000.json").write_text(json.dumps(order))
    cli("sync", "--config", config)
    cli("sync", "--config", config)
    [event] = events(cli, config, "5000")
    assert (event["outcome"], event["message"], event["state"]) == ("skipped", "Order state not allowed", "wc-awaiting-pickup")


def test_unwritable_log_path_says_what_to_fix(tmp_path: Path) -> None:
    folder, config = workspace(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    write_config(config, {"shop": {"path": "orders"}, "log": {"path": "not-a-folder/iexsync.db"}})
    result = run_process("sync", "--config", config)
    assert result.returncode == 75
    assert "not-a-folder" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "books").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_read_only_log(tmp_path: Path) -> None:
    folder, config = workspace(tmp_path)
    assert run_process("sync", "--config", config).returncode == 0
    os.chmod(tmp_path / "iexsync.db", 0o444)
    result = run_process("sync", "--config", config)
    assert result.returncode == 75 and "Traceback" not in result.stderr


def test_a_second_run_exits_75_while_the_lock_is_held(tmp_path: Path) -> None:
    _, config = workspace(tmp_path)
    with open(tmp_path / "iexsync.db.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = run_process("sync", "--config", config)
    assert result.returncode == 75
    assert "another iexsync run holds" in result.stderr
    assert not (tmp_path / "books").exists()
    assert run_process("sync", "--config", config).returncode == 0


def test_concurrent_syncs_one_works_the_others_exit_75(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "orders"
    make_orders(folder, 60)
    config = write_config(tmp_path / "config.yaml", {"shop": {"path": "orders"}})
    processes = [
        subprocess.Popen([sys.executable, "-m", "iexsync", "sync", "--config", str(config)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        for _ in range(5)
    ]
    codes = sorted(p.wait(timeout=120) for p in processes)
    assert codes.count(0) >= 1 and set(codes) <= {0, 75}
    refs = ledger_entries(tmp_path / "books" / "ledger.beancount")
    assert len(refs) == len(set(refs)) == 60
