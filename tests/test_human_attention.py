"""What needs a human reaches one (issue 11, cases 9 and 10): from cron every new warning and
error is printed once, and the log names each document by kind, number and booked state."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_process, write_config


def change_money_of_1003(demo: Path) -> None:
    """Demo order 1003 with dearer shipping (VAT and totals consistent): after booking, a
    warning that asks for a correction."""
    path = demo.parent / "examples" / "orders" / "1003.json"
    order = json.loads(path.read_text())
    order["shipping_lines"][0].update(total="59.20", total_tax="14.80", taxes=[{"id": 1, "total": "14.8", "subtotal": ""}])
    order["shipping_total"], order["shipping_tax"] = "59.20", "14.80"
    order["total"], order["total_tax"] = "979.00", "195.80"
    order["tax_lines"][0]["shipping_tax_total"] = "14.80"
    order["date_modified_gmt"] = "2026-03-01T10:00:00"
    path.write_text(json.dumps(order))


def test_a_new_warning_reaches_cron_once_even_without_an_error(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    first = run_process("sync", "--config", demo)
    assert (first.returncode, first.stdout, first.stderr) == (0, "", "")
    change_money_of_1003(demo)  # after booking: a warning that asks for a correction
    warned = run_process("sync", "--config", demo)
    assert warned.returncode == 0 and warned.stdout == ""
    lines = warned.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("order 1003: warning: The order's amounts changed after invoice 3 was booked")
    again = run_process("sync", "--config", demo)  # five minutes later: nothing new to say
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_a_waiting_refund_reaches_cron_with_the_error(demo: Path) -> None:
    write_config(demo, {"transfer": {"per_state": {"completed": {"document": "invoice", "book": False}}}})
    result = run_process("sync", "--config", demo)
    assert result.returncode == 1  # 1009 has no SKU
    lines = result.stderr.splitlines()
    assert any(line.startswith("order 1009: line 2") for line in lines), lines
    waits = [line for line in lines if line.startswith("order 1006: warning: Refund")]
    assert len(waits) == 1 and "waits" in waits[0], lines
    again = run_process("sync", "--config", demo)
    assert again.stderr == ""  # the same error and warning are not mailed every 5 minutes


def test_the_log_tells_a_draft_from_a_booked_invoice(demo: Path, cli) -> None:
    cli("sync", "--config", demo)  # 1001: invoice draft 1, then booked invoice 1; 1005: order 1; 1006: credit note 1
    found = json.loads(cli("log", "search", "1", "--config", demo, "--json").output)
    documents = sorted({event["document"] for event in found})
    assert documents == ["booked invoice 1", "credit note 1", "invoice draft 1", "order 1"]
    messages = {event["document"]: event["message"] for event in found}
    assert messages["invoice draft 1"] == "Transferred as invoice draft 1"
    assert messages["booked invoice 1"] == "Booked as booked invoice 1"
    booked = json.loads(cli("log", "search", "booked invoice 1", "--config", demo, "--json").output)
    assert [(e["order"], e["outcome"], e["document"]) for e in booked] == [("1001", "booked", "booked invoice 1")]
    draft = json.loads(cli("log", "search", "invoice draft 1", "--config", demo, "--json").output)
    assert [(e["order"], e["outcome"]) for e in draft] == [("1001", "transferred")]
    table = cli("log", "search", "1", "--config", demo).output
    assert "invoice draft 1" in table and "booked invoice 1" in table


def test_a_log_from_before_document_names_is_still_searched(demo: Path, cli) -> None:
    import sqlite3

    cli("sync", "--config", demo)
    log = demo.parent / "iexsync.db"
    with sqlite3.connect(log) as conn:
        conn.execute("ALTER TABLE events DROP COLUMN document_booked")
    found = json.loads(cli("log", "search", "1006", "--config", demo, "--json").output)
    assert [e["document"] for e in found] == ["credit note 1", "invoice 5", "invoice 5"]  # booked or not: unknown
