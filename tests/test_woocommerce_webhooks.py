"""Webhook signatures, and the fake's webhooks: created over the API, delivered signed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from iexsync.shops.woocommerce import WooCommerceShop
from tests.fakes.server import FakeServer, Recorded
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer

KEY, SECRET = "ck_" + "a1" * 20, "cs_" + "b2" * 20


def shop(webhook_secret: str | None) -> WooCommerceShop:
    return WooCommerceShop("https://shop.example.com", KEY, SECRET, webhook_secret=webhook_secret)


def test_the_worked_example_from_the_vendor_summary() -> None:
    # webhook-headers.md: secret "my-secret", body {"id":727}
    signature = {"X-WC-Webhook-Signature": "wqP4L1aRL9Sz2gGZV74g9Lk9jigFNaMnCOLFRU9DlT4="}
    assert shop("my-secret").verify_webhook(signature, b'{"id":727}')


def test_headers_in_any_case_and_only_the_exact_body() -> None:
    connector = shop("my-secret")
    good = "wqP4L1aRL9Sz2gGZV74g9Lk9jigFNaMnCOLFRU9DlT4="
    assert connector.verify_webhook({"x-wc-webhook-signature": good}, b'{"id":727}')
    assert connector.verify_webhook({"X-WC-WEBHOOK-SIGNATURE": good}, b'{"id":727}')
    assert not connector.verify_webhook({"X-WC-Webhook-Signature": good}, b'{"id": 727}')  # re-serialised
    assert not connector.verify_webhook({"X-WC-Webhook-Signature": good[:-2] + "A="}, b'{"id":727}')
    assert not connector.verify_webhook({}, b'{"id":727}')
    assert not shop("another-secret").verify_webhook({"X-WC-Webhook-Signature": good}, b'{"id":727}')


def test_without_a_secret_nothing_is_authentic() -> None:
    assert not shop(None).verify_webhook({"X-WC-Webhook-Signature": "anything"}, b"{}")
    assert not shop("").verify_webhook({"X-WC-Webhook-Signature": "anything"}, b"{}")


def test_a_secret_with_html_entities_signs_as_woocommerce_decodes_it() -> None:
    import base64
    import hashlib
    import hmac

    body = b'{"id":1}'
    signed = base64.b64encode(hmac.new(b"a&b<c", body, hashlib.sha256).digest()).decode()
    assert shop("a&amp;b&lt;c").verify_webhook({"X-WC-Webhook-Signature": signed}, body)
    assert shop("a&b<c").verify_webhook({"X-WC-Webhook-Signature": signed}, body)
    assert not shop("a&copy;b").verify_webhook({"X-WC-Webhook-Signature": signed}, body)


# --- the fake's webhooks, end to end ------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    """Stands in for the webhook receiver: answers 200 and records what came."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with FakeServer(app) as running:
        yield running


def test_a_webhook_created_over_the_api_delivers_signed_orders(server, receiver) -> None:
    import requests

    fake = server.use(FakeWooCommerce(key_permissions="read_write"))
    fake.load_vendor_examples()
    created = requests.post(
        f"{server.url}{API}/webhooks", auth=(fake.consumer_key, fake.consumer_secret),
        json={"name": "iexsync", "topic": "order.updated", "delivery_url": receiver.url + "/hook", "secret": "s3cr3t-value"},
        timeout=5,
    )
    assert created.status_code == 201
    webhook = created.json()
    assert (webhook["topic"], webhook["status"], webhook["resource"], webhook["event"]) == ("order.updated", "active", "order", "updated")
    assert webhook["delivery_url"] == receiver.url + "/hook" and "secret" not in webhook  # write-only, as documented
    assert fake.webhooks[webhook["id"]]["secret"] == "s3cr3t-value"

    assert fake.deliver(webhook["id"], 727) == 200
    delivery: Recorded = receiver.requests[-1]
    assert delivery.headers["X-Wc-Webhook-Topic"] == "order.updated"
    assert delivery.headers["X-Wc-Webhook-Id"] == str(webhook["id"])
    assert b"https:\\/\\/" in delivery.body  # wp_json_encode escapes slashes: verify the raw bytes
    assert json.loads(delivery.body)["id"] == 727
    connector = WooCommerceShop(server.url, fake.consumer_key, fake.consumer_secret, webhook_secret="s3cr3t-value")
    assert connector.verify_webhook(delivery.headers, delivery.body)
    assert not connector.verify_webhook(delivery.headers, json.dumps(json.loads(delivery.body)).encode())


def test_webhook_creation_needs_a_topic_and_a_url_and_write_access(server) -> None:
    import requests

    fake = server.use(FakeWooCommerce(key_permissions="read_write"))
    auth = (fake.consumer_key, fake.consumer_secret)
    missing = requests.post(f"{server.url}{API}/webhooks", auth=auth, json={"topic": "order.created"}, timeout=5)
    assert missing.status_code == 400 and missing.json()["code"] == "rest_missing_callback_param"
    fake.key_permissions = "read"
    refused = requests.post(f"{server.url}{API}/webhooks", auth=auth,
                            json={"topic": "order.created", "delivery_url": "http://127.0.0.1:9"}, timeout=5)
    assert refused.status_code == 401 and "write permissions" in refused.json()["message"]


def test_failing_deliveries_disable_the_webhook_as_woocommerce_does(server) -> None:
    fake = server.use(FakeWooCommerce(key_permissions="read_write"))
    fake.load_vendor_examples()
    fake.webhooks[1] = {"id": 1, "topic": "order.deleted", "resource": "order", "event": "deleted",
                        "delivery_url": "http://127.0.0.1:9/nothing-listens", "secret": "x" * 8,
                        "status": "active", "failure_count": 0}
    for _ in range(6):
        fake.deliver(1, 727)
    assert fake.webhooks[1]["status"] == "active"
    fake.deliver(1, 727)
    assert fake.webhooks[1]["status"] == "disabled"  # the 7th failure in a row
    assert json.loads(fake.deliveries[-1]["body"]) == {"id": 727}


def test_ping_on_create_is_form_encoded_and_unsigned(server, receiver) -> None:
    import requests

    fake = server.use(FakeWooCommerce(key_permissions="read_write"))
    fake.ping_on_create = True
    requests.post(f"{server.url}{API}/webhooks", auth=(fake.consumer_key, fake.consumer_secret),
                  json={"topic": "order.created", "delivery_url": receiver.url}, timeout=5).raise_for_status()
    ping = receiver.requests[-1]
    assert ping.body.startswith(b"webhook_id=") and not any(h.startswith("X-Wc") for h in ping.headers)
    assert not shop("anything").verify_webhook(ping.headers, ping.body)


def test_deliveries_can_race_the_shops_api(server, receiver) -> None:
    """The fake serves and delivers from different threads without tripping over itself."""
    fake = server.use(FakeWooCommerce(key_permissions="read_write"))
    fake.generate(50)
    fake.webhooks[1] = {"id": 1, "topic": "order.updated", "resource": "order", "event": "updated",
                        "delivery_url": receiver.url, "secret": "y" * 8, "status": "active", "failure_count": 0}
    connector = WooCommerceShop(server.url, fake.consumer_key, fake.consumer_secret, webhook_secret="y" * 8)
    ids = list(fake.orders)
    sender = threading.Thread(target=lambda: [fake.deliver(1, i) for i in ids[:20]])
    sender.start()
    pulled = list(connector.changed_orders(None))
    sender.join()
    assert len(pulled) == 50 and len(receiver.requests) == 20
    assert all(connector.verify_webhook(r.headers, r.body) for r in receiver.requests)
