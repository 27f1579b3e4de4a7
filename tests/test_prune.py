"""`iexsync log prune --older-than`: the log stays bounded, and what exactly-once needs stays."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.test_human_attention import change_money_of_1003
from tests.conftest import ledger_entries, write_config


def _age_everything(log: Path, days: int) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE events SET time = ?", (old,))
        conn.execute("UPDATE runs SET started = ?, finished = ?", (old, old))


def _count(log: Path, table: str) -> int:
    with sqlite3.connect(log) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_prune_removes_old_history_and_keeps_what_exactly_once_needs(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    log = demo.parent / "iexsync.db"
    change_money_of_1003(demo)  # a new payload for 1003, logged as a warning's source
    cli("sync", "--config", demo)
    _age_everything(log, 500)
    transfers, status = _count(log, "transfers"), _count(log, "order_status")
    events_before, payloads_before = _count(log, "events"), _count(log, "payloads")

    nothing = json.loads(cli("log", "prune", "--older-than", "600d", "--config", demo, "--json").output)
    assert nothing == {"events": 0, "webhook deliveries": 0, "runs": 0, "payloads": 0}
    planned = json.loads(cli("log", "prune", "--older-than", "400d", "--dry-run", "--config", demo, "--json").output)
    assert _count(log, "events") == events_before  # a dry run removes nothing
    result = cli("log", "prune", "--older-than", "400d", "--config", demo, "--json")
    assert result.exit_code == 0, result.output
    removed = json.loads(result.output)
    assert removed == planned and removed["events"] > 0 and removed["runs"] == 1 and removed["payloads"] > 0
    # Each order keeps its newest event, and 1009 its error; documents, status, cursor stay.
    assert _count(log, "events") == 10
    assert (_count(log, "transfers"), _count(log, "order_status")) == (transfers, status)
    assert _count(log, "payloads") == payloads_before - removed["payloads"]
    assert cli("log", "search", "1009", "--config", demo, "--json").output.count('"error"') == 1
    with sqlite3.connect(log) as conn:  # every payload an event names is still there
        dangling = conn.execute("SELECT count(*) FROM events WHERE source_digest IS NOT NULL AND source_digest NOT IN "
                                "(SELECT digest FROM payloads)").fetchone()[0]
    assert dangling == 0
    # Nothing is written twice after pruning: the log still knows every document.
    ledger = demo.parent / "books" / "ledger.beancount"
    entries = ledger_entries(ledger)
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    assert len(ledger_entries(ledger)) == len(entries) + 1  # only 1009, fixed by the config


def test_prune_keeps_the_whole_history_of_an_order_with_a_write_in_flight(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    log = demo.parent / "iexsync.db"
    _age_everything(log, 500)
    with sqlite3.connect(log) as conn:
        conn.execute("INSERT INTO intents (reference, order_id, order_number, action, kind, fingerprint, totals, "
                     "refund_id, run, created_at) VALUES ('r', '1006', '1006', 'credit', 'credit_note', '', '{}', '9', "
                     "'x', '')")
        kept = conn.execute("SELECT count(*) FROM events WHERE order_id = '1006'").fetchone()[0]
    cli("log", "prune", "--older-than", "1d", "--config", demo)
    with sqlite3.connect(log) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE order_id = '1006'").fetchone()[0] == kept == 3


def test_prune_without_a_log(demo: Path, cli) -> None:
    result = cli("log", "prune", "--older-than", "400d", "--config", demo)
    assert result.exit_code == 1 and "no log at" in result.output
    assert not (demo.parent / "iexsync.db").exists()
    assert cli("log", "prune", "--older-than", "long", "--config", demo).exit_code == 2
