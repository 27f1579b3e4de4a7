"""Pulling orders from WooCommerce over real HTTP (the fake shop on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from iexsync import errors
from iexsync.model import LineKind, Order
from iexsync.money import round_money
from iexsync.shops.base import BrokenOrder
from iexsync.shops.woocommerce import WooCommerceShop
from tests.fakes.server import FakeServer
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer, _vendor


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce())


@pytest.fixture
def shop(fake: FakeWooCommerce, server: WooServer) -> Iterator[WooCommerceShop]:
    connector = WooCommerceShop.from_config(fake.shop_config(server), None)  # type: ignore[arg-type]
    yield connector
    connector.close()


def list_queries(server: FakeServer) -> list[dict[str, list[str]]]:
    return [parse_qs(r.query) for r in server.calls("GET", f"{API}/orders") if r.path == f"{API}/orders"]


def by_id(items: list) -> dict[str, Order]:
    return {item.order_id: item for item in items}


# --- the vendor's examples -----------------------------------------------------------------
def test_vendor_examples_arrive_with_every_line_and_the_right_vat(fake, shop) -> None:
    fake.load_vendor_examples()
    orders = by_id(list(shop.changed_orders(None)))
    assert sorted(orders) == ["723", "727", "728", "729"]
    for order_id, order in orders.items():
        raw = _vendor(f"orders/order-{order_id}.json")
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


# --- paging ---------------------------------------------------------------------------------
def test_a_thousand_orders_over_ten_pages_arrive_once_each(fake, server, shop) -> None:
    ids = fake.generate(1000)
    items = list(shop.changed_orders(None))
    assert all(isinstance(item, Order) for item in items)
    assert [item.order_id for item in items] == [str(i) for i in ids]  # once each, in id order
    queries = list_queries(server)
    assert server.calls("GET", f"{API}/orders")[0].status == 200
    assert len(queries) == 11  # ten pages' worth, each after the first starting on the last order read
    assert all(q["orderby"] == ["id"] and q["order"] == ["asc"] and q["status"] == ["any"] and q["per_page"] == ["100"]
               for q in queries)
    assert [q["offset"][0] for q in queries] == ["0", *(str(99 * n) for n in range(1, 11))]
    # Generated orders add up: lines and VAT to the shop's totals, refunds where the template has them.
    for item in items:
        assert item.totals().gross == item.shop_total, item.order_id
    assert sum(1 for item in items if item.refunds) == 250


def test_an_order_changed_on_a_page_not_yet_read_arrives_in_its_new_state(fake, server, shop) -> None:
    ids = fake.generate(1000)
    late = ids[850]

    def edit(shop_, query):
        if query.get("offset") == "99":  # while the second page is being read
            shop_.modify(late, status="completed")
            fake.on_list.clear()

    fake.on_list.append(edit)
    items = by_id(list(shop.changed_orders(None)))
    assert len(items) == 1000
    assert items[str(late)].state == "completed"


def test_an_order_changed_after_it_was_read_is_read_by_the_next_pass(fake, server, shop) -> None:
    ids = fake.generate(1000)
    early = ids[10]

    def edit(shop_, query):
        if query.get("offset") == "198":
            shop_.modify(early, status="cancelled")
            fake.on_list.clear()

    fake.on_list.append(edit)
    first = list(shop.changed_orders(None))
    assert [i.order_id for i in first].count(str(early)) == 1
    assert by_id(first)[str(early)].state == "processing"
    # What the engine does next run: since = newest modification seen, minus an overlap.
    newest = max(item.modified for item in first)
    second = by_id(list(shop.changed_orders(newest - timedelta(minutes=10))))
    assert second[str(early)].state == "cancelled"


def test_orders_trashed_or_deleted_mid_run_shift_no_unread_order_out_of_sight(fake, server, shop) -> None:
    ids = fake.generate(1000)

    def remove(shop_, query):
        if query.get("offset") == "297":  # the fourth page: orders on pages already read go away
            for order_id in ids[5:8]:
                shop_.trash(order_id)
            shop_.delete(ids[50])
            fake.on_list.clear()

    fake.on_list.append(remove)
    items = [item.order_id for item in shop.changed_orders(None)]
    assert len(items) == len(set(items)) == 1000  # the removed ones were read before they went
    assert items == [str(i) for i in ids]
    offsets = [q["offset"][0] for q in list_queries(server)]
    assert "297" in offsets and offsets[offsets.index("297") + 1] == str(297 - 99)  # the pager stepped back


def test_orders_created_during_the_run_are_read_at_its_end(fake, server, shop) -> None:
    ids = fake.generate(300)
    newcomer = _vendor("orders/order-727.json") | {"id": ids[-1] + 100}

    def create(shop_, query):
        if query.get("offset") == "99":
            shop_.add_order(newcomer)
            fake.on_list.clear()

    fake.on_list.append(create)
    items = [item.order_id for item in shop.changed_orders(None)]
    assert items == [str(i) for i in ids] + [str(newcomer["id"])]


def test_per_page_is_honoured_and_one_short_page_ends_the_pass(fake, server) -> None:
    ids = fake.generate(7)
    shop = WooCommerceShop.from_config(fake.shop_config(server, per_page=3), None)  # type: ignore[arg-type]
    assert [item.order_id for item in shop.changed_orders(None)] == [str(i) for i in ids]
    assert [q["offset"][0] for q in list_queries(server)] == ["0", "2", "4"]  # X-WP-Total says 7: done


def test_no_orders_at_all(shop, server) -> None:
    assert list(shop.changed_orders(None)) == []
    assert len(list_queries(server)) == 1


@pytest.mark.parametrize("knob", ["honours_orderby", "honours_offset"])
def test_a_shop_that_ignores_the_paging_parameters_stops_the_run_instead_of_skipping_orders(fake, shop, knob) -> None:
    fake.generate(250)
    setattr(fake, knob, False)
    with pytest.raises(errors.UserError, match=r"ignore[sd]? .*cannot page through the orders safely"):
        list(shop.changed_orders(None))


def test_an_order_without_an_id_is_read_once_as_broken(fake, shop) -> None:
    first = fake.generate(150)[0]
    fake.orders[first].raw = {k: v for k, v in fake.order_json(first).items() if k != "id"}
    items = list(shop.changed_orders(None))
    broken = [item for item in items if isinstance(item, BrokenOrder)]
    assert len(items) == 150 and len(broken) == 1 and "id is missing" in broken[0].error


# --- since ----------------------------------------------------------------------------------
def test_since_asks_for_gmt_modification_times_and_includes_its_own_second(fake, server, shop) -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    for order_id, offset in ((101, -7200), (102, -1), (103, 0), (104, 3600)):
        raw = _vendor("orders/order-727.json") | {"id": order_id}
        raw["date_modified_gmt"] = (moment + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S")
        raw["date_modified"] = (moment + timedelta(seconds=offset, hours=-3)).strftime("%Y-%m-%dT%H:%M:%S")
        fake.add_order(raw)
    assert [i.order_id for i in shop.changed_orders(moment)] == ["103", "104"]
    assert [i.order_id for i in shop.changed_orders(moment + timedelta(milliseconds=500))] == ["103", "104"]
    assert [i.order_id for i in shop.changed_orders(moment + timedelta(seconds=1))] == ["104"]
    query = list_queries(server)[0]
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
    broken = _vendor("orders/order-727.json") | {"id": 800, "number": "800", "currency": "US$"}
    fake.add_order(broken)
    items = by_id(list(shop.changed_orders(None)))
    assert sorted(items) == ["723", "727", "728", "729", "800"]
    assert isinstance(items["800"], BrokenOrder)
    assert "currency is 'US$'" in items["800"].error
    assert items["800"].number == "800" and items["800"].state == "processing"
    assert items["800"].modified == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
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
