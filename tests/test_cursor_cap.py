"""The cursor never passes the moment its pass began, whatever the shop's clock says.

A shop whose clock ran ahead (or jumped, and was set back), or an order dated in the
future, carries a modification time later than now. Were the cursor set to it, the next
run's window (cursor − overlap) would start in the future, and an order saved in between
at the right time would never be read. Engine + the memory doubles + the real log, in
process: milliseconds, and removing the cap fails every case."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from iexsync import config
from iexsync.engine import Engine
from iexsync.store import Store
from iexsync.timeutil import parse_time, utc_now
from tests.conftest import write_config
from tests.contract.memory import MemoryBooks, MemoryShop, demo_order

WC = "%Y-%m-%dT%H:%M:%S"


def order(order_id: int, modified) -> object:
    return demo_order(1001, id=order_id, number=str(order_id), date_modified_gmt=modified.strftime(WC),
                      date_modified=modified.strftime(WC))


def run(settings: config.Settings, shop: MemoryShop, books: MemoryBooks) -> str:
    store = Store(settings.log_path)
    try:
        Engine(settings, shop, books, store).run(None)
        return store.cursor(f"shop:{shop.name}")
    finally:
        store.close()


@pytest.mark.parametrize("ahead", [timedelta(days=1), timedelta(hours=1), timedelta(minutes=11)],
                         ids=["future-dated order", "clock an hour ahead, then set back", "a jump just past the overlap"])
def test_an_order_from_the_future_does_not_carry_the_cursor_past_later_orders(tmp_path: Path, ahead) -> None:
    settings = config.load(write_config(tmp_path / "config.yaml", {"transfer": {"start_date": None}}))
    shop, books = MemoryShop(), MemoryBooks()
    began = utc_now()
    shop.put(order(801, began + ahead))
    cursor = parse_time(run(settings, shop, books), "cursor")
    assert began - timedelta(seconds=1) <= cursor <= utc_now()  # the pass's start, not the order's time
    shop.put(order(802, utc_now().replace(microsecond=0)))  # saved now, after the first pass began
    run(settings, shop, books)
    assert books.written() == ["iexsync:woocommerce:801:invoice", "iexsync:woocommerce:802:invoice"]


def test_a_cursor_in_the_past_moves_to_the_newest_order_read(tmp_path: Path) -> None:
    settings = config.load(write_config(tmp_path / "config.yaml", {"transfer": {"start_date": None}}))
    shop, books = MemoryShop(), MemoryBooks()
    newest = utc_now().replace(microsecond=0) - timedelta(hours=2)
    shop.put(order(811, newest - timedelta(hours=1)))
    shop.put(order(812, newest))
    assert parse_time(run(settings, shop, books), "cursor") == newest
