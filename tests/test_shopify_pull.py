"""The Shopify connector against the fake GraphQL Admin API: orders, paging, cost, errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from iexsync import errors
from iexsync.shops.base import BrokenOrder
from tests.fakes.shopify import FakeShopify, ShopifyServer, skip_reason, vendor

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


@pytest.fixture(scope="module")
def server():
    with ShopifyServer() as running:
        yield running


@pytest.fixture
def fake(server: ShopifyServer) -> FakeShopify:
    return server.use(FakeShopify())


def pages(server: ShopifyServer) -> list[dict]:
    return [b["variables"] for b in server.bodies() if b.get("operationName") == "OrdersPage"]


def test_the_fake_builds_the_captured_orders_as_shopify_did(fake) -> None:
    """The fake's orderCreate math gives the totals Shopify answered, in both currencies."""
    ids = fake.load_vendor_examples()
    matrix = vendor("graphql/examples/orderCreate.math-matrix.2025-01.json")["cases"]
    for label, case in matrix.items():
        captured = case["response"]["payload"]["data"]["orderCreate"]["order"]
        built = fake.orders[ids[label]]
        for key in ("subtotalPriceSet", "totalShippingPriceSet", "totalTaxSet", "totalDiscountsSet", "totalPriceSet"):
            assert built[key] == captured[key], (label, key)
        assert built["displayFinancialStatus"] == captured["displayFinancialStatus"]
    money_bag = vendor("graphql/examples/money-bag.presentment-currency.2025-01.json")["orderCreate"]
    captured = money_bag["response"]["payload"]["data"]["orderCreate"]["order"]
    assert fake.orders[ids["moneyBag"]]["totalPriceSet"] == captured["totalPriceSet"]
    assert fake.orders[ids["moneyBag"]]["totalTaxSet"] == captured["totalTaxSet"]


def test_every_captured_order_reads_to_the_cent(fake, server) -> None:
    ids = fake.load_vendor_examples()
    shop = server.connect()
    orders = {o.order_id: o for o in shop.changed_orders(None)}
    assert all(not isinstance(o, BrokenOrder) for o in orders.values())
    assert len(orders) == len(ids)
    for order in orders.values():
        assert order.totals().gross == order.shop_total, order.number
        assert order.totals().vat == order.shop_total_tax, order.number
    paid = orders[str(ids["paidTaxShipping"])]
    assert paid.state == "paid+unfulfilled" and paid.payment.method_id == "manual"
    product, shipping = paid.lines
    assert (product.sku, product.quantity, product.net, product.vat, product.vat_rate) == ("MATH-PAID-TAX", 2, Decimal("24.00"), Decimal("2.40"), 10)
    assert (shipping.kind.value, shipping.net, shipping.vat, shipping.vat_rate) == ("shipping", Decimal("5.00"), Decimal("0.50"), 10)
    # No address on this order: taxed where the shop is.
    assert product.meta["taxes"] == [{"title": "Paid taxable line tax", "rate": "10", "amount": "2.40", "country": "CA"}]
    assert [(t.label, t.rate, t.amount, t.country) for t in paid.tax_lines] == [
        ("Paid taxable line tax", 10, Decimal("2.40"), "CA"), ("Math Ground tax", 10, Decimal("0.50"), "CA")]
    # A code discount is allocated onto the line: booked at the original total minus the allocation.
    discounted = orders[str(ids["fixedDiscount"])].lines[0]
    assert discounted.net == Decimal("25.00") and discounted.meta["original_unit_price"] == "30.00"
    assert discounted.meta["discounts"] == [{"amount": "5.00", "index": 0, "title": "MATH5", "type": "DiscountCodeApplication"}]
    assert orders[str(ids["pendingNoTax"])].state == "none+unfulfilled"  # displayFinancialStatus null
    assert orders[str(ids["authorization"])].state == "authorized+unfulfilled"
    assert orders[str(ids["moneyBag"])].currency == "CAD" and orders[str(ids["moneyBag"])].shop_total == Decimal("13.50")
    assert orders[str(ids["moneyBag"])].created.utcoffset() is not None
    assert str(orders[str(ids["moneyBag"])].created.tzinfo) == "America/Toronto"


def test_presentment_currency_reads_the_buyers_money(fake, server) -> None:
    ids = fake.load_vendor_examples()
    shop = server.connect(currency="presentment")
    order = shop.get_order(str(ids["moneyBag"]))
    assert order.currency == "USD"
    assert (order.shop_total, order.shop_total_tax) == (Decimal("9.00"), Decimal("1.00"))
    assert (order.lines[0].net, order.lines[0].vat, order.lines[0].vat_rate) == (Decimal("8.00"), Decimal("1.00"), Decimal("12.5"))
    assert order.lines[0].meta["taxes"][0]["country"] == "CA"  # taxed where it ships


def test_taxes_included_books_the_net_and_the_tax_per_rate(fake, server) -> None:
    spec = {"currency": "DKK", "taxesIncluded": True, "shippingAddress": {"countryCode": "DK"},
            "lineItems": [{"title": "Mug", "sku": "MUG", "quantity": 2, "priceSet": "125.00",
                           "taxLines": [{"title": "Moms", "rate": 0.25, "priceSet": "50.00"}]},
                          {"title": "Gift card", "quantity": 1, "priceSet": "100.00", "giftCard": True, "taxLines": []}],
            "shippingLines": [{"title": "PostNord", "priceSet": "50.00", "taxLines": [{"title": "Moms", "rate": 0.25, "priceSet": "10.00"}]}],
            "transactions": [{"kind": "SALE", "gateway": "gift_card", "amountSet": "100.00"},
                             {"kind": "SALE", "gateway": "shopify_payments", "amountSet": "300.00"}],
            "customAttributes": [{"key": "vat_number", "value": "DK 12345678"}],
            "metafields": [{"namespace": "erp", "key": "ref", "value": "X-1"}], "note": "Leave at door"}
    order_id = fake.create_order(spec)
    order = server.connect().get_order(str(order_id))
    assert order.prices_include_tax and order.shop_total == Decimal("400.00") and order.shop_total_tax == Decimal("60.00")
    mug, gift, shipping = order.lines
    assert (mug.net, mug.vat, mug.vat_rate) == (Decimal("200.00"), Decimal("50.00"), 25)
    assert (gift.net, gift.vat, gift.vat_rate, gift.meta["gift_card"]) == (Decimal("100.00"), 0, 0, True)
    assert (shipping.net, shipping.vat) == (Decimal("40.00"), Decimal("10.00"))
    assert order.totals().gross == order.shop_total
    # A gift card used to pay is a payment, not a discount.
    assert order.payment.title == "gift_card, shopify_payments"
    assert [p["gateway"] for p in order.custom_fields["payments"]] == ["gift_card", "shopify_payments"]
    assert order.custom_fields["erp.ref"] == "X-1" and order.customer.vat_number == "DK12345678"
    assert order.customer_note == "Leave at door"


def test_paging_by_updated_at_reads_each_order_once_across_pages_and_same_seconds(fake, server) -> None:
    made = fake.generate(23, same_second=4)  # four orders share each updatedAt second
    shop = server.connect(page_size=5)
    read = [o.order_id for o in shop.changed_orders(None)]
    assert sorted(read) == sorted(map(str, made)) and len(read) == len(set(read))
    assert [p["first"] for p in pages(server)] == [5] + [3] * 8  # 5 cost more than 1,000: then sized by the cost
    # From a time in the middle: every order of that second, none before it.
    middle = fake.orders[made[10]]["updatedAt"]
    server.requests.clear()
    since = [o.order_id for o in server.connect().changed_orders(_time(middle))]
    expected = [str(i) for i in made if fake.orders[i]["updatedAt"] >= middle]
    assert sorted(since) == sorted(expected) and str(made[8]) in since  # made[8] shares made[10]'s second
    assert pages(server)[0]["query"] == f"updated_at:>='{middle}'"


def test_an_order_saved_during_the_pass_is_read_once(fake, server) -> None:
    made = fake.generate(9, same_second=1)
    calls = []

    def edit_first_order(query: str) -> None:
        calls.append(query)
        if len(calls) == 2:
            fake.tick(60)
            fake.fulfil(made[0])  # moves behind the cursor: read already, not again
            fake.fulfil(made[8])

    fake.on_query = edit_first_order
    read = [o.order_id for o in server.connect(page_size=3).changed_orders(None)]
    assert sorted(read) == sorted(map(str, made)) and len(read) == 9


def test_an_unknown_search_field_is_an_error_not_no_filter(fake, server) -> None:
    fake.generate(2)
    shop = server.connect()
    from iexsync.shops.shopify import queries

    operation, document = queries.ORDERS_PAGE
    with pytest.raises(errors.UserError, match="updatd_at: Invalid search field"):
        shop.client.query(operation, document, {"first": 1, "query": "updatd_at:>='2026-01-01T00:00:00Z'"})


def test_a_field_shopify_lacks_fails_as_it_would_in_production(fake, server) -> None:
    shop = server.connect()
    with pytest.raises(errors.OrderError, match="Cannot query field 'totalPriceInCents'.*undefinedField"):
        shop.client.query("Bad", "query Bad { orders(first: 1) { nodes { totalPriceInCents } } }")
    with pytest.raises(errors.OrderError, match="you must provide one of first or last"):
        shop.client.query("NoFirst", "query NoFirst { orders { nodes { id } } }")


def test_max_cost_exceeded_makes_the_page_smaller(fake, server) -> None:
    fake.generate(4)
    shop = server.connect(page_size=250)
    assert len(list(shop.changed_orders(None))) == 4
    assert [p["first"] for p in pages(server)] == [250, 3, 3]


def test_throttled_429_and_5xx_are_waited_out(fake, server) -> None:
    made = fake.generate(4)
    fake.restore_rate = 5000  # THROTTLED empties the bucket: a quick refill keeps the test short
    fake.fail_next("THROTTLED", "429", "500", "INTERNAL")
    shop = server.connect(page_size=2)
    shop.client.backoff = 0.01
    read = [o.order_id for o in shop.changed_orders(None)]
    assert sorted(read) == sorted(map(str, made))
    assert fake.throttled == 1 and shop.client.throttled == 1


def test_the_bucket_model_waits_instead_of_being_throttled(fake, server) -> None:
    made = fake.generate(12)
    fake.maximum = fake.available = 1000
    fake.restore_rate = 1000  # a page asks ~940 points and keeps some: without waiting, the next is throttled
    shop = server.connect(page_size=3)
    read = list(shop.changed_orders(None))
    assert len(read) == len(made)
    assert fake.throttled == 0 and shop.client.throttled == 0


def test_an_invalid_token_exits_77_with_what_to_do(fake, server) -> None:
    shop = server.connect(access_token="shpat_wrong")
    with pytest.raises(errors.CredentialsRejected, match="Shopify rejected the access token") as caught:
        list(shop.changed_orders(None))
    assert caught.value.exit_code == 77 and "shpat_wrong" not in str(caught.value)


def test_old_orders_need_read_all_orders(server) -> None:
    from datetime import datetime, timedelta, timezone

    fake = server.use(FakeShopify(scopes=("read_orders",)))
    old = fake.create_order({"lineItems": [{"title": "Old", "quantity": 1, "priceSet": "5.00"}]},
                            created=fake.clock - timedelta(days=90))
    recent = fake.generate(1)
    with pytest.raises(errors.CredentialsRejected, match="read_all_orders"):
        list(server.connect().changed_orders(None))
    since = datetime.now(timezone.utc) - timedelta(days=1)
    listed = [o.order_id for o in server.connect().changed_orders(since)]
    assert listed == [str(recent[0])] and str(old) not in listed


def test_a_field_denied_in_one_order_is_that_orders_error_naming_the_field(fake, server) -> None:
    made = fake.generate(3)
    fake.partial[made[1]] = "customer"
    items = {i.order_id: i for i in server.connect().changed_orders(None)}
    assert isinstance(items[str(made[1])], BrokenOrder)
    assert "customer: access denied (ACCESS_DENIED)" in items[str(made[1])].error
    assert not isinstance(items[str(made[0])], BrokenOrder) and not isinstance(items[str(made[2])], BrokenOrder)


def test_refunds_are_read_with_lines_and_shipping(fake, server) -> None:
    ids = fake.load_vendor_examples()
    refund_id = fake.refund(ids["paidTaxShipping"], lines={0: 1}, shipping="5.00", note="Returned")
    shop = server.connect()
    order = shop.get_order(str(ids["paidTaxShipping"]))
    assert order.state == "partially_refunded+unfulfilled"
    assert [(r.refund_id, r.amount) for r in order.refunds] == [(str(refund_id), Decimal("18.70"))]
    (refund,) = shop.refunds(order)
    assert [(l.kind.value, l.net, l.vat, l.vat_rate) for l in refund.lines] == [
        ("product", Decimal("12.00"), Decimal("1.20"), 10), ("shipping", Decimal("5.00"), Decimal("0.50"), 10)]
    assert sum(l.gross for l in refund.lines) == refund.amount


def test_an_order_with_more_lines_than_a_page_is_read_whole(fake, server) -> None:
    lines = [{"title": f"Item {n}", "sku": f"SKU-{n}", "quantity": 1, "priceSet": "1.00"} for n in range(23)]
    order_id = fake.create_order({"lineItems": lines})
    order = server.connect().get_order(str(order_id))
    assert [l.sku for l in order.lines] == [f"SKU-{n}" for n in range(23)]
    assert order.totals().gross == order.shop_total == Decimal("23.00")


def _time(text: str):
    from iexsync.timeutil import parse_time

    return parse_time(text, "t")
