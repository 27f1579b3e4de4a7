"""Shopify webhooks: the signature, the order a delivery names, and the subscriptions.

- `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(raw body, the app's client secret)), checked
  on the exact bytes received and compared in constant time; newer deliveries may drop the
  `X-` prefix from the header names.
- The body is REST-shaped: `orders/*` carry the order's `id`, `refunds/create` its `order_id`.
  Only that id is trusted: the engine reads the order again over GraphQL.
- A delivery retried by Shopify keeps its `X-Shopify-Webhook-Id`; the id together with the
  order makes the receiver's dedupe key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from iexsync import errors, redaction
from iexsync.shops.base import WebhookDelivery, WebhookInvalid
from iexsync.shops.shopify import queries
from iexsync.shops.shopify.client import GraphQLClient

ORDER_TOPICS = ("orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
                "orders/partially_fulfilled", "orders/edited")
REFUND_TOPICS = ("refunds/create",)
REGISTERED = ("ORDERS_CREATE", "ORDERS_UPDATED", "REFUNDS_CREATE")  # `iexsync webhook register`


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def header(headers: Mapping[str, str], name: str) -> str:
    """A Shopify header in any case, with or without the `X-` prefix."""
    wanted = {name.lower(), name.lower().removeprefix("x-")}
    return next((str(v) for k, v in headers.items() if k.lower() in wanted), "")


class Webhooks:
    def __init__(self, client: GraphQLClient, secret: str | None):
        self.client = client
        self.secret = secret
        if secret:
            redaction.register(secret)

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        given = header(headers, "X-Shopify-Hmac-Sha256").strip()
        if not self.secret or not given:
            return False
        return hmac.compare_digest(signature(self.secret, body).encode(), given.encode())

    def delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery | None:
        topic = header(headers, "X-Shopify-Topic").strip()
        if topic not in ORDER_TOPICS + REFUND_TOPICS:
            return None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise WebhookInvalid("the body is not JSON") from None
        key = "order_id" if topic in REFUND_TOPICS else "id"
        order_id = payload.get(key) if isinstance(payload, dict) else None
        if isinstance(order_id, str) and order_id.isdigit():
            order_id = int(order_id)
        if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
            raise WebhookInvalid(f"the {topic} body has no {key}")
        webhook_id = header(headers, "X-Shopify-Webhook-Id").strip()[:100]
        delivery_id = webhook_id or "sha256:" + hashlib.sha256(body).hexdigest()[:32]
        return WebhookDelivery(delivery_id=f"{delivery_id}:{order_id}", order_id=str(order_id), topic=topic)

    def check(self) -> None:
        if not self.secret:
            raise errors.ConfigError([
                "shop.webhook_secret is not set, so every webhook delivery would be refused: set it to the app's "
                "client secret (Settings → Apps and sales channels → Develop apps → your app → API credentials)"])

    def register(self, url: str) -> list[dict[str, Any]]:
        """webhookSubscriptionCreate for orders/create, orders/updated and refunds/create at `url`;
        a topic already subscribed at that address is left as it is (Shopify signs every
        delivery with the app's secret, so there is nothing to replace)."""
        self.check()
        operation, document = queries.WEBHOOKS
        listed = ((self.client.query(operation, document).data.get("webhookSubscriptions")) or {}).get("nodes") or []
        done = []
        for topic in REGISTERED:
            existing = [w for w in listed if w.get("topic") == topic and _same(w.get("uri"), url)]
            if existing:
                done.append({"topic": topic, "id": existing[0].get("id"), "status": "exists", "replaced": []})
                continue
            operation, document = queries.WEBHOOK_CREATE
            try:
                answer = self.client.query(operation, document, {
                    "topic": topic, "subscription": {"uri": url, "format": "JSON"}}, mutation=True)
            except errors.OutcomeUnknown as exc:
                raise errors.TemporaryFailure(f"{exc.message}; run `iexsync webhook register` again") from None
            except errors.RemoteUnavailable as exc:
                raise errors.TemporaryFailure(exc.message) from None
            except errors.OrderError as exc:
                raise errors.UserError(exc.message) from None
            result = answer.data.get("webhookSubscriptionCreate") or {}
            problems = result.get("userErrors") or []
            if problems:
                said = "; ".join(f"{'.'.join(map(str, p.get('field') or [])) or topic}: {p.get('message')}" for p in problems)
                raise errors.UserError(f"Shopify refused the {topic} webhook for {url}: {said}")
            created = result.get("webhookSubscription") or {}
            done.append({"topic": topic, "id": created.get("id"), "status": "active", "replaced": []})
        return done


def _same(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().rstrip("/") == b.strip().rstrip("/")
