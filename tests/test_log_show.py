"""Support's view: `log show ORDER`, `log search` filters and usage errors, `sync --order` by
the order number support staff know."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.conftest import EXAMPLES, run_process, write_config
from tests.fakes.woocommerce import API, FakeWooCommerce
from tests.test_woocommerce_sync import ENV, config as woo_config


def test_log_show_tells_the_whole_story_oldest_first(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    result = cli("log", "show", "1006", "--config", demo, "--json")
    assert result.exit_code == 0, result.output
    history = json.loads(result.output)
    assert (history["order"], history["order_id"], history["outcome"]) == ("1006", "1006", "credited")
    assert [e["outcome"] for e in history["events"]] == ["transferred", "booked", "credited"]
    assert [d["document"] for d in history["documents"]] == ["booked invoice 5", "credit note 1"]
    assert history["documents"][0]["totals"] == {"gross": "606.25", "net": "485.00", "vat": "121.25"}
    shop_sent = json.loads((EXAMPLES / "1006.json").read_text())
    assert history["events"][0]["source"] == shop_sent  # as the shop sent it
    assert history["events"][0]["target"]["reference"] == "iexsync:woocommerce:1006:invoice"
    assert history["events"][2]["target"]["kind"] == "credit_note"
    text = cli("log", "show", "1006", "--config", demo).output
    story = text[text.index("history, oldest first:"):]
    assert story.index("transferred [completed]") < story.index("booked [completed]") < story.index("credited [completed]")
    assert text.count("as the shop sent it:\n") == 1  # printed once, then named
    assert "as the shop sent it: the same as at" in text
    assert "as it went to the accounting system:" in text


def test_each_payload_is_stored_once(demo: Path, cli) -> None:
    write_config(demo, {"transfer": {"require_sku": False}})
    cli("sync", "--config", demo)
    with sqlite3.connect(demo.parent / "iexsync.db") as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT body) FROM payloads").fetchone()
        shop_payloads = conn.execute("SELECT count(DISTINCT source_digest) FROM events").fetchone()[0]
        events_with = conn.execute("SELECT count(*) FROM events WHERE source_digest IS NOT NULL").fetchone()[0]
    assert stored[0] == stored[1]  # no body twice
    assert shop_payloads == 10 and events_with > 10  # ten orders, more events than orders naming them
    assert stored[0] == 10 + 6 + 1 + 1  # 10 orders; documents: 6 invoices, 1 order, 1 credit note


def test_log_show_of_an_unknown_order_and_without_a_log(demo: Path, cli) -> None:
    missing = cli("log", "show", "1001", "--config", demo)
    assert missing.exit_code == 1 and f"no log at {demo.parent / 'iexsync.db'} (check --config)" in missing.output
    cli("sync", "--config", demo)
    unknown = cli("log", "show", "4444", "--config", demo)
    assert unknown.exit_code == 1 and "no such order in the log: '4444'" in unknown.output


def test_log_search_filters(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    search = lambda *args: json.loads(cli("log", "search", *args, "--config", demo, "--json").output)  # noqa: E731
    assert [e["order"] for e in search("--outcome", "error")] == ["1009"]
    assert {e["outcome"] for e in search("1006", "--outcome", "booked")} == {"booked"}
    assert {e["order"] for e in search("--state", "processing")} == {"1005"}
    assert search("--since", "1h", "--outcome", "skipped") and not search("--since", "2099-01-01")
    with sqlite3.connect(demo.parent / "iexsync.db") as conn:
        run = conn.execute("SELECT run FROM runs").fetchone()[0]
        conn.execute("UPDATE events SET time = ? WHERE order_id = '1001'",
                     ((datetime.now(timezone.utc) - timedelta(days=3)).isoformat(timespec="seconds"),))
    assert "1001" not in {e["order"] for e in search("--since", "2d")}
    assert "1001" in {e["order"] for e in search("--since", "4d")}
    assert len(search("--run", run)) == len(search("--since", "30d", "--limit", "1000"))
    assert search("--run", "nope") == []


def test_log_search_usage_errors_exit_2_both_ways(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    for args in (("",), ("  ",), ("1001", "--limit", "0"), ("1001", "--limit=0"), (), ("--since", "soon"),
                 ("--outcome", "lost")):
        line = ("log", "search", *args, "--config", str(demo))
        assert cli(*line).exit_code == 2, args
        process = run_process(*line)
        assert process.returncode == 2 and "Usage:" in process.stderr, args


def test_log_search_without_a_log_says_where_it_looked(demo: Path, cli) -> None:
    cli("config", "check", "--config", demo)  # a config that passed: the short way takes it
    for result in (cli("log", "search", "1001", "--config", demo), run_process("log", "search", "1001", "-c", demo)):
        output = getattr(result, "output", None) or result.stderr
        assert f"no log at {demo.parent / 'iexsync.db'} (check --config)" in output
        assert "nothing in the log matches" not in output
        assert (result.exit_code if hasattr(result, "exit_code") else result.returncode) == 1


def test_sync_order_by_the_number_support_knows(tmp_path: Path, server, cli) -> None:
    fake = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=1)))
    raws = [json.loads((EXAMPLES / f"{n}.json").read_text()) for n in (1001, 1009)]
    for raw in raws:
        raw["number"] = f"NL-{raw['number']}"  # a sequential-numbers plugin: numbers are not ids
        fake.add_order(raw)
    path = woo_config(tmp_path, server)
    cli("sync", "--config", path, env=ENV)
    again = cli("sync", "--config", path, "--order", "NL-1001", env=ENV)
    assert again.exit_code == 0, again.output
    assert "order NL-1001: nothing new; last booked (booked invoice 1)" in again.output
    assert [c.path for c in server.calls("GET", f"{API}/orders/")][-1] == f"{API}/orders/1001"
    failing = cli("sync", "--config", path, "--order", "NL-1009", env=ENV)
    assert failing.exit_code == 1  # still in error: its error is shown
    assert "line 2 'Gravering af navn (service)' has no SKU" in failing.output


def test_sync_order_unknown_writes_nothing(tmp_path: Path, server, cli) -> None:
    server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    path = woo_config(tmp_path, server)
    for result in (cli("sync", "--config", path, "--order", "4444", env=ENV),
                   run_process("sync", "--config", path, "--order", "4444", env=ENV)):
        output = getattr(result, "output", None) or result.stderr
        assert "no such order: 4444" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # no log, no lock, no ledger
