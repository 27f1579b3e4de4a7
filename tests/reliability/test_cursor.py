"""No order lost behind the cursor, and none fetched forever.

The WooCommerce shop is read by a cursor (orders modified since the last run, less an
overlap window). An order the run skips must not fall behind it unseen; an order that is
done must not be fetched again on every later run.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer
from tests.reliability.crash import POINTS
from tests.reliability.support import (
    SECRETS, assert_no_crash, documents, economic, iexsync_command, make_orders, run_iexsync, write_config,
)


def woo_shop(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"],
                                      utc_offset=timedelta(hours=1)))


def woo_config(folder: Path, books_url: str, shop_url: str, **transfer) -> Path:
    return write_config(folder, books_url, transfer=transfer, shop={
        "platform": "woocommerce", "url": shop_url, "consumer_key": "${WC_CONSUMER_KEY}",
        "consumer_secret": "${WC_CONSUMER_SECRET}"})


def test_an_order_held_by_another_run_is_not_passed_by_the_cursor(tmp_path: Path, tally) -> None:
    clock = [datetime.now(timezone.utc) - timedelta(hours=2)]
    with WooServer() as woo, economic() as (fake, books):
        shop = woo.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"],
                                       utc_offset=timedelta(hours=1), now=lambda: clock[0]))
        first, second, third = make_orders(tmp_path / "seed", 3)
        shop.add_order(first)
        shop.modify(first["id"])
        config = woo_config(tmp_path, books.url, woo.url)
        assert run_iexsync(tally, "sync", "--config", config).returncode == 0
        for order, later in ((second, 20), (third, 40)):  # modified after the cursor, 20 minutes apart
            clock[0] += timedelta(minutes=later - (0 if order is second else 20))
            shop.add_order(order)
            shop.modify(order["id"])
        # A killed run's claim on the new order, its pid since taken by a live process.
        holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:
            with sqlite3.connect(tmp_path / "iexsync.db") as db:
                db.execute("INSERT INTO claims (order_id, run, pid, claimed_at) VALUES (?, ?, ?, "
                           "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))", (str(second["id"]), "20260101T000000-dead00", holder.pid))
            busy = run_iexsync(tally, "sync", "--config", config, "--verbose")
            assert_no_crash(busy, allowed=(0,))
            assert "held by another run" in busy.stdout
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait()
        later = run_iexsync(tally, "sync", "--config", config)
        assert_no_crash(later, allowed=(0,))
        found = documents(fake)
        tally.add(orders=3, lost=int(found.get(f"iexsync:woocommerce:{second['id']}:invoice", 0) == 0))
        assert found.get(f"iexsync:woocommerce:{second['id']}:invoice") == 1


def test_a_recovered_order_is_not_fetched_again_on_every_run(tmp_path: Path, tally) -> None:
    assert "after-book" in POINTS
    clock = [datetime.now(timezone.utc) - timedelta(hours=3)]
    with WooServer() as woo, economic() as (fake, books):
        shop = woo.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"],
                                       utc_offset=timedelta(hours=1), now=lambda: clock[0]))
        *orders, newer = make_orders(tmp_path / "seed", 4)
        for order in orders:
            shop.add_order(order)
            shop.modify(order["id"])
        config = woo_config(tmp_path, books.url, woo.url)
        command = [*iexsync_command()[:2], "tests.reliability.crash", "after-book", "1", "--",
                   "sync", "--config", str(config)]
        assert run_iexsync(tally, command=command).returncode == -signal.SIGKILL
        assert_no_crash(run_iexsync(tally, "sync", "--config", config), allowed=(0,))
        clock[0] += timedelta(hours=1)  # the shop sells on: the cursor moves past the first orders
        shop.add_order(newer)
        shop.modify(newer["id"])
        assert_no_crash(run_iexsync(tally, "sync", "--config", config), allowed=(0,))
        with woo._lock:
            woo.requests.clear()
        assert_no_crash(run_iexsync(tally, "sync", "--config", config), allowed=(0,))
        fetched = [r.path for r in woo.calls("GET") if r.path.startswith(f"{API}/orders/")]
        with sqlite3.connect(tmp_path / "iexsync.db") as db:
            due = db.execute("SELECT count(*) FROM order_status WHERE due = 1").fetchone()[0]
        tally.add(orders=4, still_due=due)
        assert fetched == [] and due == 0, f"fetched again: {fetched}; due: {due}"
