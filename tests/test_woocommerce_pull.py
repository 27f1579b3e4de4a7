"""Pulling orders from WooCommerce over real HTTP (the fake shop on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from iexsync import errors
from iexsync.model import LineKind, Order
from iexsync.money import round_money
from iexsync.shops.base import BrokenOrder
from iexsync.shops.woocommerce import WooCommerceShop
from tests.fakes import woocommerce_examples as examples
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer
from tests.vendor import needs_vendor, vendor_json


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce())


@pytest.fixture
def shop(fake: FakeWooCommerce, server: WooServer) -> Iterator[WooCommerceShop]:
    yield from server.connect()



def by_id(items: list) -> dict[str, Order]:
    return {item.order_id: item for item in items}


# --- the vendor's examples -----------------------------------------------------------------
@needs_vendor("woocommerce", "orders", "order-727.json")
def test_vendor_examples_arrive_with_every_line_and_the_right_vat(fake, shop) -> None:
    fake.load_vendor_examples()
    orders = by_id(list(shop.changed_orders(None)))
    assert sorted(orders) == ["723", "727", "728", "729"]
    for order_id, order in orders.items():
        raw = vendor_json("woocommerce", "orders", f"order-{order_id}.json")
        products = [line for line in order.lines if line.kind is LineKind.PRODUCT]
        assert [line.text for line in products] == [i["name"].replace("&ndash;", "–") for i in raw["line_items"]]
        assert [line.quantity for line in products] == [Decimal(i["quantity"]) for i in raw["line_items"]]
        assert [line.net for line in products] == [Decimal(i["subtotal"]) for i in raw["line_items"]]
        assert [line.vat for line in products] == [Decimal(i["subtotal_tax"]) for i in raw["line_items"]]
        shipping = [line for line in order.lines if line.kind is LineKind.SHIPPING]
        assert [line.net for line in shipping] == [Decimal(s["total"]) for s in raw["shipping_lines"]]
        assert order.totals().net + order.shop_total_tax == order.shop_total
        # Every taxed line is at the shop's one rate (California, 7.5 %), shipping untaxed,
        # and VAT computed per rate over the lines is the shop's own total tax.
        taxed = [line for line in order.lines if line.vat]
        assert {line.vat_rate for line in taxed} <= {Decimal("7.5")}
        per_rate = round_money(sum((line.net for line in taxed), Decimal(0)) * Decimal("0.075"), "USD")
        assert per_rate == order.shop_total_tax
    assert orders["728"].shop_total == Decimal("62.25") and orders["728"].shop_total_tax == Decimal("2.25")
    assert orders["727"].customer.name == "John Doe" and orders["727"].customer.billing.city == "San Francisco"
    assert orders["727"].created == datetime(2017, 3, 22, 19, 28, 2, tzinfo=timezone.utc)


# --- since ----------------------------------------------------------------------------------
def test_since_asks_for_gmt_modification_times_and_includes_its_own_second(fake, server, shop) -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    for order_id, offset in ((101, -7200), (102, -1), (103, 0), (104, 3600)):
        raw = examples.order(727) | {"id": order_id}
        raw["date_modified_gmt"] = (moment + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S")
        raw["date_modified"] = (moment + timedelta(seconds=offset, hours=-3)).strftime("%Y-%m-%dT%H:%M:%S")
        fake.add_order(raw)
    assert [i.order_id for i in shop.changed_orders(moment)] == ["103", "104"]
    assert [i.order_id for i in shop.changed_orders(moment + timedelta(milliseconds=500))] == ["103", "104"]
    assert [i.order_id for i in shop.changed_orders(moment + timedelta(seconds=1))] == ["104"]
    query = server.list_queries()[0]
    assert query["modified_after"] == ["2026-03-01T11:59:59"] and query["dates_are_gmt"] == ["true"]


def test_a_shop_that_ignores_modified_after_still_yields_only_changed_orders(fake, server, shop) -> None:
    ids = fake.generate(20)
    newest = max(fake.orders[i].modified_gmt for i in ids)
    fake.supports_modified_after = False
    items = list(shop.changed_orders(newest - timedelta(seconds=4)))
    assert [i.order_id for i in items] == [str(i) for i in ids[-5:]]


# --- broken orders, one order, states --------------------------------------------------------
def test_an_unreadable_order_is_broken_alone_and_the_pass_goes_on(fake, shop) -> None:
    fake.load_vendor_examples()
    broken = examples.order(727) | {"id": 800, "number": "800", "currency": "US$"}
    fake.add_order(broken)
    items = by_id(list(shop.changed_orders(None)))
    assert sorted(items) == ["723", "727", "728", "729", "800"]
    assert isinstance(items["800"], BrokenOrder)
    assert "currency is 'US$'" in items["800"].error
    assert items["800"].number == "800" and items["800"].state == "processing"
    assert items["800"].modified == datetime.fromisoformat(broken["date_modified_gmt"] + "+00:00")
    assert all(isinstance(items[k], Order) for k in ("723", "727", "728", "729"))


def test_an_order_whose_refunds_are_gone_is_read_and_its_refunds_are_its_error(fake, server, shop) -> None:
    fake.load_vendor_examples()
    fake.refunds[723] = "not a list"  # type: ignore[assignment]
    items = by_id(list(shop.changed_orders(None)))
    assert all(isinstance(item, Order) for item in items.values())  # the list does not read refunds
    with pytest.raises(errors.OrderInvalid, match="its refunds are text, expected a list"):
        shop.refunds(items["723"])


def test_get_order(fake, shop) -> None:
    fake.load_vendor_examples()
    order = shop.get_order("723")
    assert isinstance(order, Order) and [r.refund_id for r in order.refunds] == ["726", "724"]
    with pytest.raises(errors.OrderInvalid, match=r"404 woocommerce_rest_shop_order_invalid_id: Invalid ID"):
        shop.get_order("999")
    with pytest.raises(errors.OrderInvalid, match="not a WooCommerce order id"):
        shop.get_order("../webhooks")


def test_states_are_the_shops_own_with_counts_custom_ones_included(fake, shop) -> None:
    fake.load_vendor_examples()
    fake.add_status("awaiting-shipment", "Awaiting shipment")
    fake.modify(729, status="awaiting-shipment")
    states = dict(shop.states())
    assert states == {"pending": 1, "processing": 1, "on-hold": 0, "completed": 1, "cancelled": 0,
                      "refunded": 0, "failed": 0, "awaiting-shipment": 1}
