"""`iexsync status`: whether all is well, for a person and for a monitor (exit 0 / 1 / 75)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from iexsync.store import Store
from tests.test_human_attention import change_money_of_1003
from tests.conftest import run_process, write_config
from tests.fakes.woocommerce import FakeWooCommerce
from tests.test_woocommerce_sync import ENV, config as woo_config


def _status(cli, demo: Path, *args: str) -> tuple[int, dict]:
    result = cli("status", "--config", demo, "--json", *args)
    return result.exit_code, json.loads(result.output)


def test_no_log_is_stale_and_says_where_it_looked(demo: Path, cli) -> None:
    result = cli("status", "--config", demo)
    assert result.exit_code == 75
    assert f"no log at {demo.parent / 'iexsync.db'} (check --config)" in result.output
    assert not (demo.parent / "iexsync.db").exists()  # status writes nothing


def test_an_order_in_error_needs_a_human(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    code, report = _status(cli, demo)
    assert code == 1 and report["status"] == "needs attention"
    assert [(e["order"], e["message"].split(";")[0]) for e in report["errors"]] == [
        ("1009", "line 2 'Gravering af navn (service)' has no SKU")]
    assert report["warnings"] == [] and report["retrying"] == [] and report["webhooks_waiting"] == 0
    assert report["last_run"]["ended"] == "finished" and report["last_run"]["counts"]["error"] == 1
    assert list(report["cursors"]) == ["shop:file"]
    text = cli("status", "--config", demo)
    assert text.exit_code == 1
    assert "order 1009: line 2 'Gravering af navn (service)' has no SKU" in text.output


def test_all_well_is_exit_0_and_a_warning_asking_for_action_is_1(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    code, report = _status(cli, demo)
    assert (code, report["status"], report["errors"], report["warnings"]) == (0, "ok", [], [])
    change_money_of_1003(demo)
    cli("sync", "--config", demo)
    code, report = _status(cli, demo)
    assert code == 1
    assert [e["order"] for e in report["warnings"]] == ["1003"]
    assert report["warnings"][0]["message"].startswith("The order's amounts changed after invoice 3 was booked")


def test_waiting_retries_and_webhook_deliveries_are_counted(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    store = Store(demo.parent / "iexsync.db")
    with store.transaction():
        store.mark_due("1002")
    store.enqueue_delivery("woocommerce", "d-1", "1004", "order.updated")
    store.close()
    code, report = _status(cli, demo)
    assert code == 0  # a retry is the next run's job, not a human's
    assert [e["order"] for e in report["retrying"]] == ["1002"] and report["webhooks_waiting"] == 1


def test_no_run_finished_within_the_threshold_is_75(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat(timespec="seconds")
    with sqlite3.connect(demo.parent / "iexsync.db") as conn:
        conn.execute("UPDATE runs SET started = ?, finished = ?", (long_ago, long_ago))
    code, report = _status(cli, demo)
    assert (code, report["status"]) == (75, "stale")
    assert 7190 < report["seconds_since_last_finished_run"] < 7300
    assert _status(cli, demo, "--stale-after", "3h")[0] == 0
    assert cli("status", "--config", demo, "--stale-after", "soon").exit_code == 2


def test_a_run_that_failed_is_said_and_does_not_count_as_finished(tmp_path: Path, server, cli) -> None:
    server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    path = woo_config(tmp_path, server)
    wrong = {**ENV, "WOO_SECRET": "cs_" + "00" * 20}
    assert cli("sync", "--config", path, env=wrong).exit_code == 77
    result = cli("status", "--config", path, "--json", env=wrong)
    report = json.loads(result.output)
    assert result.exit_code == 75 and report["last_finished_run"] is None
    assert report["last_run"]["ended"] == "failed"
    assert report["last_run"]["error"].startswith("WooCommerce rejected the API keys")
    assert wrong["WOO_SECRET"] not in result.output


def test_as_a_process_in_local_time(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    run_process("sync", "--config", demo)
    report = json.loads(run_process("status", "--config", demo, "--json").stdout)
    started = datetime.fromisoformat(report["last_run"]["started"])
    result = run_process("status", "--config", demo, env={"TZ": "America/Sao_Paulo"})
    assert result.returncode == 0, result.stderr
    local = started.astimezone(ZoneInfo("America/Sao_Paulo")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"last run:     {local} finished" in result.stdout
