"""Every shop connector, and the memory double, through ShopContract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from iexsync.shops.base import BrokenOrder
from tests.contract.memory import MemoryShop, demo_order, demo_raw
from tests.contract.shop import ShopBackend, ShopContract
from tests.fakes.server import Fault
from tests.fakes.woocommerce import FakeWooCommerce, WooServer


def woocommerce_order(order_id: int, state: str, modified: datetime, refunded: bool, offset: timedelta) -> dict:
    """A demo order (WooCommerce-shaped) with this id, state and save time; 1006 has a refund."""
    wc = "%Y-%m-%dT%H:%M:%S"
    return demo_raw(1006 if refunded else 1001, id=order_id, number=str(order_id), status=state,
                    date_modified_gmt=modified.astimezone(timezone.utc).strftime(wc),
                    date_modified=(modified.astimezone(timezone.utc) + offset).strftime(wc),
                    **({} if refunded else {"refunds": []}))


def unreadable(order_id: int, modified: datetime, offset: timedelta) -> dict:
    return woocommerce_order(order_id, "completed", modified, False, offset) | {"currency": "US$"}


class TestWooCommerceShop(ShopContract):
    @pytest.fixture
    def backend(self, server: WooServer, tmp_path) -> ShopBackend:
        fake = server.use(FakeWooCommerce())
        offset = fake.utc_offset

        def fail_lasting() -> None:
            server.faults = lambda request: Fault("status", 503, b'{"code": "down"}', {"Retry-After": "0"})

        return ShopBackend(
            section=fake.shop_config(server), base_dir=tmp_path,
            add=lambda i, state, modified, refunded: fake.add_order(woocommerce_order(i, state, modified, refunded, offset)),
            add_unreadable=lambda i, modified: fake.add_order(unreadable(i, modified, offset)),
            fail_lasting=fail_lasting, requests=lambda: len(server.requests),
            secrets=(fake.consumer_key, fake.consumer_secret),
        )


class TestFileShop(ShopContract):
    @pytest.fixture
    def backend(self, tmp_path) -> ShopBackend:
        folder = tmp_path / "orders"
        folder.mkdir()

        def write(order_id: int, raw: dict) -> None:
            (folder / f"{order_id}.json").write_text(json.dumps(raw))

        return ShopBackend(
            section={"platform": "file", "path": "orders"}, base_dir=tmp_path, reads_since=False,
            add=lambda i, state, modified, refunded: write(i, woocommerce_order(i, state, modified, refunded, timedelta())),
            add_unreadable=lambda i, modified: write(i, unreadable(i, modified, timedelta())),
        )


class TestMemoryShop(ShopContract):
    @pytest.fixture
    def backend(self, tmp_path) -> ShopBackend:
        shop = MemoryShop()

        def add(order_id: int, state: str, modified: datetime, refunded: bool) -> None:
            raw = woocommerce_order(order_id, state, modified, refunded, timedelta())
            shop.put(demo_order(1006 if refunded else 1001, **{k: v for k, v in raw.items() if k != "line_items"}))

        return ShopBackend(
            section={"platform": "memory"}, base_dir=tmp_path, connect=lambda: shop, add=add,
            add_unreadable=lambda i, modified: shop.put(BrokenOrder(str(i), "currency is 'US$'", str(i), "completed", modified)),
        )
