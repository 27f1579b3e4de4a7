"""The embedded demo end to end: the file shop into Beancount, through the real CLI."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from tests.conftest import bean_check, ledger_entries, run_process, write_config


def test_demo_transfers_its_orders_and_logs_the_failing_one(demo: Path, cli) -> None:
    result = cli("sync", "--config", demo, "--verbose")
    assert result.exit_code == 1, result.output  # order 1009 ends in error
    ledger = demo.parent / "books" / "ledger.beancount"
    assert bean_check(ledger) == []
    refs = ledger_entries(ledger)
    assert sorted(refs) == sorted(
        [f"iexsync:woocommerce:{n}:invoice" for n in (1001, 1002, 1003, 1004, 1006)]
        + ["iexsync:woocommerce:1005:order", "iexsync:woocommerce:1006:credit_note:2001"]
    )
    assert "line 2 'Gravering af navn (service)' has no SKU" in result.output
    assert "Order state not allowed" in result.output
    assert "before the start date 2026-01-01" in result.output


def test_second_run_transfers_nothing_and_logs_nothing(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    ledger = demo.parent / "books" / "ledger.beancount"
    before = ledger.read_text()
    db = sqlite3.connect(demo.parent / "iexsync.db")
    events = db.execute("select count(*) from events").fetchone()[0]
    second = cli("sync", "--config", demo, "--verbose")
    assert second.exit_code == 0, second.output
    assert "nothing new" in second.output
    assert ledger.read_text() == before
    assert db.execute("select count(*) from events").fetchone()[0] == events


def test_an_unchanged_order_is_not_decided_again_and_a_changed_one_is(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    db = sqlite3.connect(demo.parent / "iexsync.db")
    # Every order but 1009 is settled (1009 failed: an order in error is decided on every run).
    status = "select order_id, seen, updated_at from order_status where order_id != '1009' order by order_id"
    before = db.execute(status).fetchall()
    assert len(before) == 9 and all(seen for _, seen, _ in before)  # each settled order's digest

    time.sleep(1.1)  # the status rows' times have whole seconds
    again = cli("sync", "--config", demo, "--verbose")
    assert "nothing new" in again.output
    assert db.execute(status).fetchall() == before  # not one settled order decided again, nothing written

    # Give order 1009's engraving line a SKU: the order changed, so it is decided and transferred.
    path = demo.parent / "examples" / "orders" / "1009.json"
    order = json.loads(path.read_text())
    order["line_items"][1]["sku"] = "NL-ENGRAVE"
    path.write_text(json.dumps(order))
    fourth = cli("sync", "--config", demo, "--verbose")
    assert "1009" in fourth.output and "transferred" in fourth.output, fourth.output
    assert db.execute(status).fetchall() == before  # the others still untouched
    assert db.execute("select seen from order_status where order_id = '1009'").fetchone()[0]  # settled now


def test_ledger_balances_to_the_shop_totals(demo: Path, cli) -> None:
    from beancount import loader

    cli("sync", "--config", demo)
    entries, errors, _ = loader.load_file(str(demo.parent / "books" / "ledger.beancount"))
    assert errors == []
    totals = {}
    for entry in entries:
        ref = getattr(entry, "meta", {}).get("iexsync-ref", "")
        if ref.endswith(":invoice"):
            receivable = [p for p in entry.postings if p.account.startswith("Assets:Receivables")]
            totals[entry.meta["order-number"]] = str(receivable[0].units.number)
    shop = {
        n: json.loads((demo.parent / "examples" / "orders" / f"{n}.json").read_text())["total"]
        for n in ("1001", "1002", "1003", "1004", "1006")
    }
    assert totals == shop


def test_flags_draft_and_booked(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"per_state": {"completed": {"document": "invoice", "book": False}}}})
    cli("sync", "--config", demo)
    text = (demo.parent / "books" / "ledger.beancount").read_text()
    assert '! "Fjordhuset ApS"' in text and '* "Fjordhuset ApS"' not in text
    # Refunds wait for the invoice to be booked instead of crediting a draft.
    found = cli("log", "search", "1006", "--config", demo, "--json")
    assert any("waits" in e["message"] for e in json.loads(found.output))


def test_log_search_shows_the_order_history(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    result = cli("log", "search", "1006", "--config", demo, "--json")
    events = json.loads(result.output)
    assert [e["outcome"] for e in events] == ["credited", "booked", "transferred"]  # newest first
    assert set(events[0]) == {"time", "order", "state", "outcome", "document", "message"}
    assert events[0]["document"] == "credit note 1"
    table = cli("log", "search", "1007", "--config", demo)
    assert "Order state not allowed" in table.output and "skipped" in table.output
    by_email = json.loads(cli("log", "search", "SOFIE.ANDERSEN@example.com", "--config", demo, "--json").output)
    assert by_email and all(e["order"] == "1002" for e in by_email)
    by_words = json.loads(cli("log", "search", "no SKU", "--config", demo, "--json").output)
    assert [e["order"] for e in by_words] == ["1009"]
    assert "nothing in the log matches" in cli("log", "search", "99999", "--config", demo).output


def test_dry_run_writes_nothing(demo: Path, cli) -> None:
    result = cli("sync", "--config", demo, "--dry-run")
    assert result.exit_code == 1  # it still says 1009 would fail
    planned = json.loads(result.output[: result.output.rindex("]") + 1])
    assert {p["document"]["order_number"] for p in planned} == {"1001", "1002", "1003", "1004", "1005", "1006"}
    assert not (demo.parent / "books" / "ledger.beancount").exists()
    assert not (demo.parent / "iexsync.db").exists() or sqlite3.connect(demo.parent / "iexsync.db").execute(
        "select count(*) from events").fetchone()[0] == 0


def test_changed_draft_is_updated_and_booked_change_is_a_warning(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"per_state": {"completed": {"document": "invoice", "book": False}}}})
    cli("sync", "--config", demo)
    path = demo.parent / "examples" / "orders" / "1003.json"
    order = json.loads(path.read_text())
    order["billing"]["company"] = "Nielsen Keramik"
    order["date_modified_gmt"] = "2026-03-01T10:00:00"
    path.write_text(json.dumps(order))
    result = cli("sync", "--config", demo, "--verbose")
    assert "The order changed: invoice draft 3 updated" in result.output
    ledger = demo.parent / "books" / "ledger.beancount"
    assert ledger_entries(ledger).count("iexsync:woocommerce:1003:invoice") == 1
    assert '! "Nielsen Keramik"' in ledger.read_text()
    assert bean_check(ledger) == []

    # Book it, then change the money: never touched again, one warning naming the difference.
    write_config(demo, {"transfer": {"per_state": {"completed": {"document": "invoice", "book": True}}}})
    cli("sync", "--config", demo)
    order["shipping_lines"][0].update(total="59.20", total_tax="14.80", taxes=[{"id": 1, "total": "14.8", "subtotal": ""}])
    order["shipping_total"], order["shipping_tax"] = "59.20", "14.80"
    order["total"], order["total_tax"] = "979.00", "195.80"
    order["tax_lines"][0]["shipping_tax_total"] = "14.80"
    path.write_text(json.dumps(order))
    booked_text = ledger.read_text()
    warned = cli("sync", "--config", demo, "--verbose")
    assert "changed after invoice 3 was booked" in warned.output
    warning = json.loads(cli("log", "search", "1003", "--config", demo, "--json").output)[0]
    assert warning["outcome"] == "warning"
    assert "(net 763.20 → 783.20, vat 190.80 → 195.80, gross 954.00 → 979.00 DKK)" in warning["message"]
    assert ledger.read_text() == booked_text
    again = cli("sync", "--config", demo, "--verbose")
    assert "changed after" not in again.output  # the same warning is not logged twice


def test_quiet_on_success_when_not_on_a_terminal(demo: Path) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    result = run_process("sync", "--config", demo)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_errors_reach_cron_mail(demo: Path) -> None:
    result = run_process("sync", "--config", demo)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "order 1009: line 2 'Gravering af navn (service)' has no SKU" in result.stderr


def test_fixing_the_config_retries_the_failed_order(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    write_config(demo, {"transfer": {"require_sku": False}})
    result = cli("sync", "--config", demo, "--verbose")
    assert result.exit_code == 0
    assert "Transferred as invoice draft 6" in result.output
    assert "Booked as booked invoice 6" in result.output
    assert "1009" in result.output


def test_config_flag_before_or_after_the_command_and_from_the_environment(demo: Path, cli) -> None:
    assert cli("--config", demo, "config", "check").exit_code == 0
    assert cli("config", "check", "--config", demo).exit_code == 0
    assert cli("config", "check", env={"IEXSYNC_CONFIG": str(demo)}).exit_code == 0


def test_states_lists_each_state_with_its_action(demo: Path, cli) -> None:
    result = cli("states", "--config", demo)
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[2:]}
    assert lines["completed"] == ["7", "yes", "invoice,", "booked"]
    assert lines["processing"] == ["1", "yes", "order"]
    assert lines["pending"] == ["1", "no", "—"]
