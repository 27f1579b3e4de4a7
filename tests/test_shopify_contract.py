"""The Shopify connector through the shared shop contract (tests/contract/shop.py).

The contract names its states WooCommerce's way (`completed`, `processing`); a Shopify
order's state is financial+fulfilment, so `completed` is put in as paid+fulfilled,
`processing` as paid+unfulfilled, and the two tests that read state names back are
restated in Shopify's words."""

from __future__ import annotations

from datetime import datetime

import pytest

from iexsync import errors
from iexsync.model import Order
from tests.contract.shop import T, ShopBackend, ShopContract
from tests.fakes.server import Fault
from tests.fakes.shopify import FakeShopify, ShopifyServer, skip_reason, vendor

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
FULFILMENT = {"completed": "FULFILLED", "processing": "UNFULFILLED"}


@pytest.fixture(scope="module")
def shopify_server():
    with ShopifyServer() as running:
        yield running


class TestShopifyShop(ShopContract):
    @pytest.fixture
    def backend(self, shopify_server: ShopifyServer, tmp_path) -> ShopBackend:
        fake = shopify_server.use(FakeShopify())
        paid = vendor("graphql/examples/orderCreate.math-matrix.2025-01.json")["cases"]["paidTaxShipping"]["variables"]["order"]

        def add(order_id: int, state: str, modified: datetime, refunded: bool) -> None:
            fake.clock = modified
            fake.create_order(paid, order_id=order_id, name=f"#{order_id}", created=modified,
                              fulfilment=FULFILMENT.get(state, "UNFULFILLED"))
            if refunded:
                fake.refund(order_id, lines={0: 1})

        def add_unreadable(order_id: int, modified: datetime) -> None:
            add(order_id, "completed", modified, False)
            fake.orders[order_id]["totalPriceSet"]["shopMoney"]["amount"] = "31.905"  # more decimals than CAD has

        def fail_lasting() -> None:
            shopify_server.faults = lambda request: Fault("status", 503, b'{"errors": "down"}', {"Retry-After": "0"})

        return ShopBackend(
            section=fake.shop_config(shopify_server), base_dir=tmp_path, add=add, add_unreadable=add_unreadable,
            fail_lasting=fail_lasting, requests=lambda: len(shopify_server.requests),
            secrets=(fake.token, fake.client_secret),
        )

    def test_get_order(self, backend, shop) -> None:
        backend.add(501, "completed", T, False)
        backend.add(502, "processing", T, False)
        order = shop.get_order("502")
        assert isinstance(order, Order) and (order.order_id, order.state) == ("502", "paid+unfulfilled")
        assert shop.get_order("501").state == "paid+fulfilled"
        with pytest.raises(errors.OrderError):
            shop.get_order("999999")

    def test_states_name_the_shops_states(self, backend, shop) -> None:
        backend.add(541, "completed", T, False)
        backend.add(542, "processing", T, False)
        counts = dict(shop.states())
        assert (counts["paid"], counts["fulfilled"], counts["unfulfilled"]) == (2, 1, 1)
