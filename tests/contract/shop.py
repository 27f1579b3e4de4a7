"""`ShopContract`: every behaviour the engine relies on from a shop connector, written
once. Each connector's test module subclasses it with one fixture:

    from tests.contract.shop import ShopBackend, ShopContract

    class TestShopifyShop(ShopContract):
        @pytest.fixture
        def backend(self, shopify_server, tmp_path) -> ShopBackend:
            fake = shopify_server.use(FakeShopify())
            return ShopBackend(
                section={"platform": "shopify", "url": shopify_server.url, "token": fake.token},
                base_dir=tmp_path,
                add=lambda order_id, state, modified, refunded: fake.add_order(...),  # an order in that state
                add_unreadable=lambda order_id, modified: fake.add_order(...),       # one the connector cannot read
                fail_lasting=lambda: ...,     # every request answers 5xx from now on
                requests=lambda: len(shopify_server.requests),
                secrets=(fake.token,),
            )

`add(order_id, state, modified, refunded)` puts an order into the shop, last saved at
`modified`, with one refund when `refunded`; the contract only ever asks for ids, states,
times and refunds, so each platform builds its own order bodies. Capabilities a backend
does not declare skip their tests with the reason. See tests/contract/README.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from iexsync import engine, errors, registry
from iexsync.model import Order
from iexsync.shops.base import BrokenOrder

T = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


@dataclass
class ShopBackend:
    section: dict[str, Any]  # the `shop:` section, `platform` included
    base_dir: Path
    add: Callable[[int, str, datetime, bool], None]
    add_unreadable: Callable[[int, datetime], None]
    connect: Callable[[], Any] | None = None  # a fresh connector; default: the registry's, from `section`
    reads_since: bool = True  # False: every pass reads everything (a folder has no change feed)
    fail_lasting: Callable[[], None] | None = None
    requests: Callable[[], int] | None = None
    secrets: tuple[str, ...] = ()

    def open(self) -> Any:
        if self.connect is not None:
            return self.connect()
        return registry.load("shops", self.section["platform"]).from_config(self.section, self.base_dir)


class ShopContract:
    """Subclass with a `backend` fixture returning a ShopBackend."""

    @pytest.fixture
    def backend(self) -> ShopBackend:
        raise NotImplementedError("a ShopContract subclass provides the `backend` fixture")

    @pytest.fixture
    def shop(self, backend: ShopBackend) -> Any:
        connector = backend.open()
        yield connector
        connector.close()

    def test_get_order(self, backend, shop) -> None:
        backend.add(501, "completed", T, False)
        backend.add(502, "processing", T, False)
        order = shop.get_order("502")
        assert isinstance(order, Order) and (order.order_id, order.state) == ("502", "processing")
        with pytest.raises(errors.OrderError):
            shop.get_order("999999")

    def test_an_unreadable_order_is_broken_alone(self, backend, shop) -> None:
        for order_id in (511, 512, 514):
            backend.add(order_id, "completed", T + timedelta(seconds=order_id - 500), False)
        backend.add_unreadable(513, T + timedelta(seconds=13))
        items = list(shop.changed_orders(None))
        assert sorted(i.order_id for i in items) == ["511", "512", "513", "514"]
        broken = [i for i in items if isinstance(i, BrokenOrder)]
        assert [b.order_id for b in broken] == ["513"] and broken[0].error
        assert all(isinstance(i, Order) for i in items if i.order_id != "513")

    def test_the_since_window(self, backend, shop) -> None:
        for order_id, offset in ((521, -7200), (522, -1), (523, 0), (524, 3600)):
            backend.add(order_id, "completed", T + timedelta(seconds=offset), False)

        def ids(since: datetime | None) -> list[str]:
            return sorted(i.order_id for i in shop.changed_orders(since))

        every = ["521", "522", "523", "524"]
        assert ids(None) == every
        expected = (["523", "524"], ["523", "524"], ["524"]) if backend.reads_since else (every, every, every)
        # `since` includes its own second: a shop that keeps whole seconds cannot tell within it.
        assert (ids(T), ids(T + timedelta(milliseconds=500)), ids(T + timedelta(seconds=1))) == expected

    def test_refunds_come_with_their_order(self, backend, shop) -> None:
        backend.add(531, "completed", T, True)
        backend.add(532, "completed", T, False)
        refunded, plain = shop.get_order("531"), shop.get_order("532")
        assert len(refunded.refunds) == 1 and plain.refunds == ()
        full = shop.refunds(refunded)
        assert [r.refund_id for r in full] == [refunded.refunds[0].refund_id] and full[0].amount > 0
        assert shop.refunds(plain) == ()

    def test_states_name_the_shops_states(self, backend, shop) -> None:
        backend.add(541, "completed", T, False)
        backend.add(542, "processing", T, False)
        assert {"completed", "processing"} <= {state for state, _ in shop.states()}

    # --- a remote shop -------------------------------------------------------------------------
    def test_plain_http_is_refused_before_anything_is_sent(self, backend) -> None:
        if "url" not in backend.section or backend.requests is None:
            pytest.skip("this shop has no URL")
        before = backend.requests()
        section = {**backend.section, "url": "http://shop.example.com"}
        with pytest.raises(errors.ConfigError, match="plain http"):
            registry.load("shops", section["platform"]).from_config(section, backend.base_dir)
        assert backend.requests() == before

    def test_a_lasting_5xx_stops_the_run(self, backend, shop) -> None:
        if backend.fail_lasting is None:
            pytest.skip("a local shop has no server to fail")
        backend.add(551, "completed", T, False)
        backend.fail_lasting()
        with pytest.raises(errors.TemporaryFailure):
            list(engine.changed_orders(shop, None))  # as the engine reads the list: the cursor stays
        with pytest.raises(errors.RemoteUnavailable) as one:
            shop.get_order("551")
        assert one.value.transient

    def test_no_secret_in_any_message(self, backend, shop) -> None:
        if not backend.secrets:
            pytest.skip("this shop has no secrets")
        messages = []
        if "url" in backend.section:
            section = {**backend.section, "url": "http://shop.example.com"}
            with pytest.raises(errors.ConfigError) as refused:
                registry.load("shops", section["platform"]).from_config(section, backend.base_dir)
            messages.append(str(refused.value))
        if backend.fail_lasting is not None:
            backend.fail_lasting()
            for attempt in (lambda: list(shop.changed_orders(None)), lambda: shop.get_order("1"), shop.states):
                with pytest.raises(Exception) as failed:  # noqa: PT011 - whatever it is, it names no secret
                    attempt()
                messages += [str(failed.value), repr(failed.value)]
        assert messages
        assert [m for m in messages for s in backend.secrets if s in m] == []
