"""`iexsync sync` end to end with shop.platform woocommerce: the fake shop into Beancount."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from tests.conftest import EXAMPLES, REPO, bean_check, ledger_entries
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer

ENV = {"WOO_KEY": "ck_" + "7e" * 20, "WOO_SECRET": "cs_" + "4a" * 20}


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    # The demo shop runs in Copenhagen (UTC+1 in winter), as its orders' dates say.
    return server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=1)))


def config(folder: Path, server: WooServer, transfer: dict | None = None, **shop) -> Path:
    """The demo config with its file shop swapped for the fake WooCommerce, keys from the environment."""
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "woocommerce", "url": server.url,
                    "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}", **shop}
    tree["transfer"].update(transfer or {})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def test_sync_transfers_the_demo_shops_orders(tmp_path, fake, server, cli) -> None:
    fake.load_orders_dir(EXAMPLES)
    path = config(tmp_path, server)
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert result.exit_code == 1, result.output  # order 1009 has a line without SKU
    ledger = tmp_path / "books" / "ledger.beancount"
    assert bean_check(ledger) == []
    assert sorted(ledger_entries(ledger)) == sorted(
        [f"iexsync:woocommerce:{n}:invoice" for n in (1001, 1002, 1003, 1004, 1006)]
        + ["iexsync:woocommerce:1005:order", "iexsync:woocommerce:1006:credit_note:2001"]
    )
    assert "line 2 'Gravering af navn (service)' has no SKU" in result.output
    assert ENV["WOO_SECRET"] not in result.output and ENV["WOO_KEY"] not in result.output
    # Refunds are read only for an invoice's refunds not credited yet (1007 is not invoiced).
    assert [r.path for r in server.calls("GET", f"{API}/orders/")] == [f"{API}/orders/1006/refunds"]

    # The next run asks only for what changed since; nothing did.
    server.requests.clear()
    again = cli("sync", "--config", path, "--verbose", env=ENV)
    assert "nothing new" in again.output, again.output
    # (The recheck's `include=` read goes out beside the feed's: either may arrive first.)
    first = next(q for q in map(parse_qs, (r.query for r in server.calls("GET", f"{API}/orders"))) if "include" not in q)
    assert first["dates_are_gmt"] == ["true"] and first["modified_after"]

    # A refund made in the shop afterwards becomes a credit note on the next run.
    refund = fake.add_refund(1001, "199.00", "Returned lamp shade")
    third = cli("sync", "--config", path, "--verbose", env=ENV)
    assert third.exit_code == 0, third.output  # 1009 is not retried until it changes
    assert f"iexsync:woocommerce:1001:credit_note:{refund['id']}" in ledger_entries(ledger), third.output
    assert bean_check(ledger) == []


def test_sync_transfers_the_vendors_example_orders(tmp_path, fake, server, cli) -> None:
    fake.utc_offset = timedelta(hours=-3)
    fake.load_vendor_examples()
    path = config(tmp_path, server, transfer={"start_date": None, "require_sku": False})
    tree = yaml.safe_load(path.read_text())
    tree["accounting"]["exchange_rates"] = {"home_currency": "USD"}  # the vendor's shop sells in USD: its ledger's own currency
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert result.exit_code == 0, result.output
    ledger = tmp_path / "books" / "ledger.beancount"
    assert bean_check(ledger) == []
    assert sorted(ledger_entries(ledger)) == sorted([
        "iexsync:woocommerce:723:invoice",
        "iexsync:woocommerce:723:credit_note:724",
        "iexsync:woocommerce:723:credit_note:726",
        "iexsync:woocommerce:727:order",
        "iexsync:woocommerce:729:order",
    ])  # 728 is pending: not an allowed state
    assert "Order state not allowed" in result.output


def test_the_states_command_lists_the_shops_statuses(tmp_path, fake, server, cli) -> None:
    fake.load_orders_dir(EXAMPLES)
    fake.add_status("awaiting-pickup", "Awaiting pickup")
    result = cli("states", "--config", config(tmp_path, server), env=ENV)
    assert result.exit_code == 0, result.output
    assert "awaiting-pickup" in result.output and "completed" in result.output


def test_bad_keys_exit_77_with_the_message(tmp_path, fake, server, cli) -> None:
    result = cli("sync", "--config", config(tmp_path, server), env={**ENV, "WOO_SECRET": "cs_" + "00" * 20})
    assert result.exit_code == 77
    assert "WooCommerce rejected the API keys (read access needed)" in result.output
    assert "cs_0000" not in result.output


def test_the_config_schema_checks_the_woocommerce_section(tmp_path, server, cli) -> None:
    path = config(tmp_path, server, per_page=500, query_string_auth="yes", consumer_keys="typo")
    result = cli("config", "check", "--config", path, env=ENV)
    assert result.exit_code == 78, result.output
    assert "per_page" in result.output and "query_string_auth" in result.output and "consumer_keys" in result.output
    schema = json.loads(cli("config", "schema").output)
    assert "woocommerce" in json.dumps(schema) and "query_string_auth" in json.dumps(schema)


def test_orders_changed_during_a_long_pass_are_read_once_then_by_the_next_run(tmp_path, server, cli) -> None:
    clock = [datetime.now(timezone.utc)]
    fake = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=1),
                                      now=lambda: clock[0]))
    fake.load_orders_dir(EXAMPLES)  # ten orders, 1001 to 1010: five pages of two
    refunds = []

    def meanwhile(shop, query):
        if query.get("offset") == "2":  # order 1001 was read on the first page, 1008 is not read yet
            refunds.append(shop.add_refund(1001, "199.00", "Returned lamp shade"))
            clock[0] += timedelta(hours=1)  # a first run over thousands of orders takes a while
            shop.modify(1008, status="processing", customer_note="Please call first")
            fake.on_list.clear()

    fake.on_list.append(meanwhile)
    path = config(tmp_path, server, {"overlap_minutes": 0}, per_page=2)  # nothing rests on the overlap window
    first = cli("sync", "--config", path, "--verbose", env=ENV)
    ledger = tmp_path / "books" / "ledger.beancount"
    entries = ledger_entries(ledger)
    assert entries.count("iexsync:woocommerce:1001:invoice") == 1, first.output
    # Both changes came after the pass froze the list: they wait for the next run.
    assert not [e for e in entries if ":1008:" in e or e.startswith("iexsync:woocommerce:1001:credit_note")], first.output
    offsets = [parse_qs(r.query)["offset"][0] for r in server.calls("GET", f"{API}/orders") if r.path == f"{API}/orders"]
    assert offsets == ["0", "2", "0", "2", "4", "6"]  # two left the list (X-WP-Total 10 → 8): one step back

    clock[0] += timedelta(minutes=5)  # cron's next run
    second = cli("sync", "--config", path, "--verbose", env=ENV)
    entries = ledger_entries(ledger)
    assert f"iexsync:woocommerce:1001:credit_note:{refunds[0]['id']}" in entries, second.output
    assert "iexsync:woocommerce:1008:order" in entries, second.output
    assert len(entries) == len(set(entries)) and bean_check(ledger) == []
