"""Shopify webhooks: the signature (the vendor's test vector), the order a delivery names,
the receiver end to end (re-read over GraphQL, deduplicated), and `webhook register`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iexsync.shops.base import WebhookInvalid
from iexsync.shops.shopify import ShopifyShop
from iexsync.shops.shopify.config import ShopifySettings
from iexsync.store import Store
from tests.conftest import bean_check
from tests.fakes.shopify import CLIENT_SECRET, VENDOR_DIR, FakeShopify, ShopifyServer, skip_reason
from tests.test_shopify_sync import ENV, config
from tests.test_webhooks import Running, wait_for

needs_vendor = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")


def shop(secret: str | None) -> ShopifyShop:
    return ShopifyShop(ShopifySettings("https://my-shop.myshopify.com", "shpat_x" * 3, webhook_secret=secret))


@pytest.mark.skipif(not (VENDOR_DIR / "webhooks" / "hmac-test-vector.json").exists(), reason="no Shopify HMAC test vector")
def test_the_vendor_test_vector() -> None:
    vector = json.loads((VENDOR_DIR / "webhooks" / "hmac-test-vector.json").read_text())
    connector = shop(vector["secret"])
    body = vector["raw_body_utf8"].encode()
    assert connector.verify_webhook({"X-Shopify-Hmac-Sha256": vector["x_shopify_hmac_sha256"]}, body)
    assert connector.verify_webhook({"shopify-hmac-sha256": vector["x_shopify_hmac_sha256"]}, body)  # newer, no X-
    reserialised = vector["same_body_reserialised_with_spaces"].encode()
    assert not connector.verify_webhook({"X-Shopify-Hmac-Sha256": vector["x_shopify_hmac_sha256"]}, reserialised)
    assert connector.verify_webhook({"X-Shopify-Hmac-Sha256": vector["signature_of_reserialised_body"]}, reserialised)
    assert not shop("another").verify_webhook({"X-Shopify-Hmac-Sha256": vector["x_shopify_hmac_sha256"]}, body)
    assert not shop(None).verify_webhook({"X-Shopify-Hmac-Sha256": vector["x_shopify_hmac_sha256"]}, body)
    assert not connector.verify_webhook({}, body)


def test_a_delivery_names_its_order_and_is_keyed_by_webhook_id_and_order() -> None:
    connector = shop("s")
    updated = connector.webhook_delivery({"X-Shopify-Topic": "orders/updated", "X-Shopify-Webhook-Id": "w-1"}, b'{"id": 450789469}')
    assert (updated.order_id, updated.delivery_id, updated.topic) == ("450789469", "w-1:450789469", "orders/updated")
    refund = connector.webhook_delivery({"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w-1"},
                                        b'{"id": 509562969, "order_id": 450789469}')
    assert (refund.order_id, refund.delivery_id) == ("450789469", "w-1:450789469")
    assert connector.webhook_delivery({"X-Shopify-Topic": "products/update"}, b'{"id": 1}') is None
    with pytest.raises(WebhookInvalid, match="no order_id"):
        connector.webhook_delivery({"X-Shopify-Topic": "refunds/create"}, b'{"id": 5}')
    assert not connector.is_webhook_ping({}, b"")


@needs_vendor
def test_the_vendor_webhook_bodies_name_their_orders() -> None:
    connector = shop("s")
    for name, topic, key in (("orders-create.rest-2025-10.discount.json", "orders/create", "id"),
                             ("refunds-create.rest-2025-10.shipping.json", "refunds/create", "order_id")):
        body = (VENDOR_DIR / "webhooks" / name).read_bytes()
        delivery = connector.webhook_delivery({"X-Shopify-Topic": topic}, body)
        assert delivery.order_id == str(json.loads(body)[key])


@pytest.fixture(scope="module")
def server():
    with ShopifyServer() as running:
        yield running


@needs_vendor
def test_a_delivery_books_the_order_as_graphql_reads_it_once(tmp_path: Path, server, monkeypatch) -> None:
    fake = server.use(FakeShopify())
    ids = fake.load_vendor_examples()
    monkeypatch.setenv("SHOPIFY_ACCESS_TOKEN", ENV["SHOPIFY_ACCESS_TOKEN"])
    path = config(tmp_path, server, webhook_secret=CLIENT_SECRET)
    with Running(path) as receiver:
        assert receiver.url.endswith("/webhooks/shopify")
        order_id = ids["paidTaxShipping"]
        # The body is a REST order of another shop (total 403.00 elsewhere): only its id counts.
        for _ in range(3):  # one delivery retried by Shopify: the same webhook id
            status, _, _ = fake.deliver("orders/updated", order_id, webhook_id="wh-1", url=receiver.url)
            assert status == 200
        status, _, _ = fake.deliver("orders/updated", order_id, secret="forged", url=receiver.url)
        assert status == 401
        wait_for(lambda: any(row[0] == "done" for row in receiver.inbox()), timeout=30)
        assert receiver.documents() == [f"iexsync:shopify:{order_id}:invoice"]
        assert "31.90 CAD" in receiver.ledger.read_text()
        assert bean_check(receiver.ledger) == []
        store = Store(receiver.settings.log_path, read_only=True)
        outcomes = [row["outcome"] for row in store.search(str(order_id)) if row["outcome"].startswith("webhook")]
        store.close()
        assert sorted(outcomes) == ["webhook done", "webhook duplicate", "webhook duplicate", "webhook rejected"]
    reads = [b for b in server.bodies() if b.get("operationName") == "OneOrder"]
    assert reads and {b["variables"]["id"] for b in reads} == {f"gid://shopify/Order/{order_id}"}  # re-read, not trusted


@needs_vendor
def test_register_creates_the_three_subscriptions_once(tmp_path: Path, server, cli) -> None:
    fake = server.use(FakeShopify())
    path = config(tmp_path, server, webhook_secret=CLIENT_SECRET)
    url = "https://books.example.com/webhooks/shopify"
    first = cli("webhook", "register", "--config", path, "--url", url, env=ENV)
    assert first.exit_code == 0, first.output
    assert sorted((w["topic"], w["uri"]) for w in fake.webhooks) == [
        ("ORDERS_CREATE", url), ("ORDERS_UPDATED", url), ("REFUNDS_CREATE", url)]
    again = cli("webhook", "register", "--config", path, "--url", url, env=ENV)
    assert again.exit_code == 0, again.output
    assert len(fake.webhooks) == 3  # already there: left as they are
    creates = [b for b in server.bodies() if b.get("operationName") == "WebhookCreate"]
    assert len(creates) == 3 and {b["variables"]["subscription"]["format"] for b in creates} == {"JSON"}
