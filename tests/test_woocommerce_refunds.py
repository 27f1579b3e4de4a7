"""WooCommerce refunds, read lazily: the order lists them (id, amount, reason); their lines
come from GET /orders/<id>/refunds only when `shop.refunds(order)` asks (over real HTTP)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qs

import pytest
import requests

from iexsync import errors
from iexsync.model import Order
from iexsync.shops.woocommerce import WooCommerceShop
from tests.fakes.server import Fault
from tests.fakes import woocommerce_examples as examples
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer
from tests.vendor import needs_vendor
from tests.test_woocommerce_pull import fake, shop  # noqa: F401 - the same fixtures


def refund_calls(server: WooServer) -> list[str]:
    return [r.path for r in server.calls("GET", f"{API}/orders/") if r.path.endswith("/refunds")]


def test_listing_orders_with_refunds_makes_only_the_list_calls(fake, server, shop) -> None:
    fake.generate(400)  # every fourth order is the template with two refunds
    orders = [item for item in shop.changed_orders(None) if isinstance(item, Order)]
    refunded = [order for order in orders if order.refunds]
    assert len(orders) == 400 and len(refunded) == 100
    assert refund_calls(server) == []
    # What the order itself says: ids and amounts, no lines.
    assert all(len(order.refunds) == 2 and not any(r.lines for r in order.refunds) for order in refunded)


@needs_vendor("woocommerce", "refunds", "refund-724.json")
def test_refunds_of_an_order_cost_one_call_and_come_with_their_lines(fake, server, shop) -> None:
    fake.load_vendor_examples()
    orders = {item.order_id: item for item in shop.changed_orders(None)}
    summaries = orders["723"].refunds
    assert [(r.refund_id, r.amount, r.lines) for r in summaries] == [("726", Decimal("10.00"), ()),
                                                                     ("724", Decimal("9.00"), ())]
    refunds = shop.refunds(orders["723"])
    assert [(r.refund_id, r.amount) for r in refunds] == [("726", Decimal("10.00")), ("724", Decimal("9.00"))]
    assert [(line.text, line.quantity, line.net) for line in refunds[1].lines] == [("Woo Album #2", Decimal(1), Decimal("9.00"))]
    assert refunds[1].created == datetime(2017, 3, 21, 19, 55, 37, tzinfo=timezone.utc)
    assert refund_calls(server) == [f"{API}/orders/723/refunds"]


def test_an_order_without_refunds_costs_no_call(fake, server, shop) -> None:
    fake.load_vendor_examples()
    order = shop.get_order("727")
    assert isinstance(order, Order) and shop.refunds(order) == ()
    assert refund_calls(server) == []


def test_get_order_reads_no_refunds(fake, server, shop) -> None:
    fake.load_vendor_examples()
    order = shop.get_order("723")
    assert isinstance(order, Order) and [r.refund_id for r in order.refunds] == ["726", "724"]
    assert refund_calls(server) == []


def test_each_refunded_order_is_one_call(fake, server, shop) -> None:
    ids = fake.generate(40)
    orders = [item for item in shop.changed_orders(None) if isinstance(item, Order) and item.refunds]
    for order in orders:
        assert [r.refund_id for r in shop.refunds(order)] == [r.refund_id for r in order.refunds]
        assert all(r.lines for r in shop.refunds(order)[1:])  # the returned album
    assert len(refund_calls(server)) == 2 * len(orders) == 2 * sum(1 for i in ids if fake.refunds_json(i))


def test_many_refunds_are_read_over_several_pages(fake, server) -> None:
    fake.load_vendor_examples()
    for n in range(4):
        fake.add_refund(727, "1.00", f"goodwill {n}")
    shop = WooCommerceShop.from_config(fake.shop_config(server, per_page=3), None)  # type: ignore[arg-type]
    order = shop.get_order("727")
    assert len(order.refunds) == 4
    assert [r.reason for r in shop.refunds(order)] == [f"goodwill {n}" for n in (3, 2, 1, 0)]
    assert [parse_qs(r.query)["page"] for r in server.calls("GET", f"{API}/orders/727/refunds")] == [["1"], ["2"]]


def test_trouble_reaching_the_shop_is_transient_for_that_order(fake, server) -> None:
    fake.load_vendor_examples()
    section = fake.shop_config(server)
    shop = WooCommerceShop(section["url"], section["consumer_key"], section["consumer_secret"], retries=1, backoff=0.01)
    order = shop.get_order("723")
    server.faults = lambda request: Fault("status", 503) if request.path.endswith("/refunds") else None
    with pytest.raises(errors.RemoteUnavailable) as caught:
        shop.refunds(order)
    assert caught.value.transient and "answered 503" in caught.value.message
    server.faults = lambda request: Fault("reset_before") if request.path.endswith("/refunds") else None
    with pytest.raises(errors.RemoteUnavailable):
        shop.refunds(order)
    shop.close()


def test_an_order_deleted_since_it_was_read_cannot_have_its_refunds_read(fake, shop) -> None:
    fake.load_vendor_examples()
    order = shop.get_order("723")
    fake.delete(723)
    with pytest.raises(errors.OrderInvalid, match=r"its refunds cannot be read: .*404 woocommerce_rest_shop_order_invalid_id"):
        shop.refunds(order)


@pytest.mark.parametrize(("refunds", "named"), [
    ("not a list", "its refunds are text, expected a list"),
    ([{"id": 724, "amount": "nine"}], "refunds[0].amount"),
    ([{"id": 724, "amount": "9.00", "line_items": [{"total": {"x": 1}}]}], "refunds[0].line_items[0].total"),
    (["724"], "refunds[0] is '724', expected an object"),
    ([{"id": 724, "amount": "9.00", "date_created_gmt": "yesterday"}], "refunds[0].date_created_gmt"),
])
def test_refunds_of_a_bad_shape_are_that_orders_error_naming_the_field(fake, shop, refunds, named) -> None:
    fake.load_vendor_examples()
    order = shop.get_order("723")
    fake.refunds[723] = refunds  # type: ignore[assignment]
    with pytest.raises(errors.OrderInvalid) as caught:
        shop.refunds(order)
    assert named in caught.value.message


def test_refund_amounts_are_read_in_the_orders_currency(fake, shop) -> None:
    raw = examples.order(727) | {"id": 900, "currency": "JPY", "refunds": [{"id": 901, "total": "-100"}],
                                 "shipping_lines": [], "shipping_total": "0", "shipping_tax": "0"}
    for tax_line in raw["tax_lines"]:
        tax_line["shipping_tax_total"] = "0"  # yen have no decimals: no taxed shipping of 12.25 to round
    fake.add_order(raw, refunds=[{"id": 901, "amount": "100.40", "reason": "", "line_items": []}])
    order = shop.get_order("900")
    assert isinstance(order, Order)
    assert str(shop.refunds(order)[0].amount) == "100"  # yen have no decimals (USD would keep 100.40)


# --- HPOS: the refunds endpoint's amounts are wrong, the order's summary is right ---------------
@needs_vendor("woocommerce", "refunds", "refund-724.json")  # the vendor's refund amounts
def test_with_hpos_storage_refund_amounts_and_reasons_come_from_the_orders_summary(fake, server, shop) -> None:
    fake.load_vendor_examples()
    fake.use_hpos()  # GET /orders/<id>/refunds now answers "0.00" and no reason, as WooCommerce 7.8 does
    answered = requests.get(f"{server.url}{API}/orders/723/refunds", auth=(fake.consumer_key, fake.consumer_secret)).json()
    assert [(r["amount"], r["reason"]) for r in answered] == [("0.00", ""), ("0.00", "")]
    order = shop.get_order("723")
    refunds = shop.refunds(order)
    assert [(r.refund_id, r.amount, r.reason) for r in refunds] == [(s.refund_id, s.amount, s.reason) for s in order.refunds]
    assert [r.amount for r in refunds] == [Decimal("10.00"), Decimal("9.00")]
    # The lines the endpoint does get right are kept.
    assert [(line.text, line.quantity, line.net) for line in refunds[1].lines] == [("Woo Album #2", Decimal(1), Decimal("9.00"))]


def test_a_refund_the_orders_summary_does_not_name_is_an_error_never_a_zero_credit(fake, server, shop) -> None:
    fake.load_vendor_examples()
    fake.use_hpos()
    order = shop.get_order("723")
    without_724 = dataclasses.replace(order, refunds=order.refunds[:1])  # the summary as an older read of the order had it
    with pytest.raises(errors.OrderInvalid, match=r"refund 724: .* says its amount is 0.00, .* its amount is unknown .* nothing is credited"):
        shop.refunds(without_724)


@needs_vendor("woocommerce", "refunds", "refund-724.json")  # the vendor's refund amounts
def test_a_refund_whose_amount_the_orders_summary_contradicts_is_an_error(fake, server, shop) -> None:
    fake.load_vendor_examples()
    fake.refunds[723][1]["amount"] = "8.00"  # the order's summary says 9.00
    with pytest.raises(errors.OrderInvalid, match=r"refund 724: .* says its amount is 8.00, the order's own refunds list says 9.00"):
        shop.refunds(shop.get_order("723"))
