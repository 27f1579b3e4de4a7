"""Item edits that WooCommerce's posts storage saves without moving date_modified.

The fake does what a real 7.8.2 does (`edit_items`: lines and totals change, date_modified
stays), so `modified_after` never returns the order again; `iexsync.recheck` re-reads the
recently transferred orders, one request a run in rotation, and the engine decides those
whose digest changed.
"""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from tests.conftest import REPO
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer
from tests.vendor import needs_vendor

ENV = {"WOO_KEY": "ck_" + "a1" * 20, "WOO_SECRET": "cs_" + "b2" * 20}


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    shop = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=-3)))
    shop.load_vendor_examples()  # 723 completed, 727 and 729 processing, 728 pending
    return shop


def config(folder: Path, server: WooServer, **shop) -> Path:
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["accounting"]["exchange_rates"] = {"home_currency": "USD"}  # the vendor's shop sells in USD: its ledger's own currency
    # recheck_minutes 0: a batch every run, as these tests count runs (its own test below sets it)
    tree["shop"] = {"platform": "woocommerce", "url": server.url, "recheck_minutes": 0,
                    "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}", **shop}
    tree["transfer"].update({"start_date": None, "require_sku": False, "overlap_minutes": 0})
    tree["log"] = {"path": str(folder / "iexsync.db")}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def four_singles(raw: dict) -> None:
    """727's first line from 2 to 4 × 'Woo Single #1' (3.00 + 7.5 % tax): 29.35 → 35.80."""
    line = raw["line_items"][0]
    line.update(quantity=4, subtotal="12.00", total="12.00", subtotal_tax="0.90", total_tax="0.90",
                taxes=[{"id": 75, "total": "0.9", "subtotal": "0.9"}])
    raw.update(cart_tax="1.80", total_tax="1.80", total="35.80")
    raw["tax_lines"][0]["tax_total"] = "1.80"


def include_lists(server: WooServer) -> list[list[str]]:
    """The ids each order read by id (`include=`) asked for, in order."""
    return [parse_qs(r.query)["include"][0].split(",") for r in server.calls("GET", f"{API}/orders")
            if r.path == f"{API}/orders" and "include" in parse_qs(r.query)]


# Its amounts are the vendor's order 727 (the lookalike has other lines).
@needs_vendor("woocommerce", "orders", "order-727.json")
def test_an_item_edit_without_a_new_date_modified_is_caught_by_the_recheck(tmp_path, fake, server, cli) -> None:
    path = config(tmp_path, server)
    first = cli("sync", "--config", path, env=ENV)
    assert first.exit_code == 0, first.output
    ledger = (tmp_path / "books" / "ledger.beancount").read_text()
    assert '"iexsync:woocommerce:727:order"' in ledger and "29.35" in ledger

    before = fake.orders[727].modified_gmt
    fake.edit_items(727, four_singles)  # posts storage: date_modified stays
    assert fake.orders[727].modified_gmt == before
    server.requests.clear()
    second = cli("sync", "--config", path, "--verbose", env=ENV)
    assert second.exit_code == 0, second.output
    listed = [r for r in server.calls("GET", f"{API}/orders") if r.path == f"{API}/orders"]
    # The change feed shows only 729 (the cursor's own second), not 727; one more request,
    # sent beside the feed's, re-reads the transferred orders (729 among them: handled once).
    assert include_lists(server) == [["723", "727", "729"]] and len(listed) == 2
    ledger = (tmp_path / "books" / "ledger.beancount").read_text()
    assert "35.80" in ledger and "29.35" not in ledger
    # An unchanged order re-read is not decided again: the third run writes nothing.
    third = cli("sync", "--config", path, "--verbose", env=ENV)
    assert "nothing new" in third.output, third.output


@needs_vendor("woocommerce", "orders", "order-727.json")
def test_a_batch_is_read_at_most_once_in_recheck_minutes(tmp_path, fake, server, cli) -> None:
    """The runs in between make the change feed's one request; the first run after the
    interval reads the next batch, and catches the edit made meanwhile."""
    path = config(tmp_path, server, recheck_minutes=30)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0  # transfers: nothing to re-read yet
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    assert len(include_lists(server)) == 1  # the first batch
    fake.edit_items(727, four_singles)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    assert len(include_lists(server)) == 1  # within 30 minutes: no batch
    assert "29.35" in (tmp_path / "books" / "ledger.beancount").read_text()
    log = sqlite3.connect(tmp_path / "iexsync.db")
    with log:  # the batch was read 31 minutes ago
        log.execute("UPDATE remembered SET updated_at = ? WHERE key = 'recheck:woocommerce'",
                    ((datetime.now(timezone.utc) - timedelta(minutes=31)).isoformat(),))
    log.close()
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    assert len(include_lists(server)) == 2
    ledger = (tmp_path / "books" / "ledger.beancount").read_text()
    assert "35.80" in ledger and "29.35" not in ledger


def test_without_the_recheck_the_edit_is_never_seen(tmp_path, fake, server, cli) -> None:
    """The control: what the real shop did to iexsync before (recheck_days: 0)."""
    path = config(tmp_path, server, recheck_days=0)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    fake.edit_items(727, four_singles)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    assert include_lists(server) == []
    assert "35.80" not in (tmp_path / "books" / "ledger.beancount").read_text()


def test_the_recheck_rotates_one_request_a_run_over_every_transferred_order(tmp_path, fake, server, cli) -> None:
    fake.generate(13)  # with the examples: 11 orders in processing or completed, transferred
    path = config(tmp_path, server, per_page=4)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    transferred = {order_id for order_id, entry in fake.orders.items() if entry.status in ("processing", "completed")}
    server.requests.clear()
    runs = math.ceil(len(transferred) / 4)
    for _ in range(runs):
        assert cli("sync", "--config", path, env=ENV).exit_code == 0
    batches = include_lists(server)
    assert len(batches) == runs and all(1 <= len(batch) <= 4 for batch in batches)  # one request a run, ≤ per_page
    # Every transferred order was re-read within ceil(N / per_page) runs.
    assert transferred == {int(order_id) for batch in batches for order_id in batch}


def test_the_recheck_is_read_while_the_change_feed_is_in_flight(tmp_path, fake, server, cli) -> None:
    """An idle run waits for one answer, not two: the recheck's request goes out before the
    feed's list request is answered (the fake holds that answer until it comes, 5 s at most)."""
    path = config(tmp_path, server)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    recheck_arrived = threading.Event()
    held: list[bool] = []  # per feed request: did the recheck arrive while it was unanswered

    def hold_the_feed(request):
        query = parse_qs(request.query)
        if request.path == f"{API}/orders" and "include" in query:
            recheck_arrived.set()
        elif request.path == f"{API}/orders":
            held.append(recheck_arrived.wait(5))
        return None

    server.faults = hold_the_feed
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    assert len(include_lists(server)) == 1 and held == [True]


def test_an_idle_run_parses_no_order_it_decided_before(tmp_path, fake, server, cli) -> None:
    """The feed's overlap and the recheck list orders decided before exactly as they are:
    they come back unparsed (so the VAT data, which parsing a tax code loads, stays out),
    and the http shop's OAuth signing does not import requests-oauthlib's OAuth 2. Nor is
    anything loaded that only deciding an order needs (iexsync.lazy): the canonical order,
    documents, the planner, the mapping, the order parser, the VAT rules."""
    import os

    path = config(tmp_path, server, recheck_days=14)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    code = f"""
import sys
from iexsync.__main__ import run
assert run(["sync", "--config", {str(path)!r}]) == 0
print(" ".join(sorted(sys.modules)))
"""
    server.requests.clear()
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, **ENV}).stdout.split()
    assert len(include_lists(server)) == 1 and "iexsync.engine" in loaded  # it ran, recheck and all
    unneeded = {"eu_vat_rates_data", "pycountry", "html", "requests_oauthlib", "oauthlib.oauth2", "uuid",
                "iexsync.model", "iexsync.document", "iexsync.planner", "iexsync.mapping", "iexsync.references",
                "iexsync.shops.woocommerce.order", "iexsync.vat", "iexsync.books.base"}
    assert unneeded.isdisjoint(loaded), unneeded & set(loaded)
