"""WooCommerce's webhooks: verifying and reading deliveries, and registering ours.

Deliveries carry X-WC-Webhook-Signature = base64(HMAC-SHA256(raw body, secret)), the
topic in X-WC-Webhook-Topic and a per-delivery id in X-WC-Webhook-Delivery-ID; saving a
webhook sends a ping (`webhook_id=<id>`, form-style, unsigned).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from iexsync import errors, redaction
from iexsync.http import json_body
from iexsync.shops.base import WebhookDelivery, WebhookInvalid
from iexsync.shops.woocommerce.client import MAX_PER_PAGE, WHAT, WooCommerceApi, error_of

WEBHOOK_TOPICS = ("order.created", "order.updated")  # what `iexsync webhook register` creates
WEBHOOK_ORDER_EVENTS = ("created", "updated", "restored")  # order.* deliveries that name an order to transfer


class WooCommerceWebhooks:
    """The WebhookSource half of the WooCommerce shop (iexsync/shops/base.py)."""

    api: WooCommerceApi
    webhook_secret: str | None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether X-WC-Webhook-Signature is base64(HMAC-SHA256(body, webhook secret)).

        WooCommerce keys the HMAC with the secret after wp_specialchars_decode, so a
        secret typed with &amp; in it signs with a plain &. No secret configured: False.
        """
        if not self.webhook_secret:
            return False
        given = header(headers, "X-WC-Webhook-Signature")
        if not given:
            return False
        key = _wp_specialchars_decode(self.webhook_secret).encode()
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
        return hmac.compare_digest(expected, given.strip().encode())

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery | None:
        """The order an `order.created|updated|restored` delivery names (its body is the
        order as GET /orders/<id> shows it; only `id` is taken). Other topics (products,
        customers, `order.deleted`, `action.*`): None."""
        topic = header(headers, "X-WC-Webhook-Topic").strip()
        resource, _, event = topic.partition(".")
        if resource != "order" or event not in WEBHOOK_ORDER_EVENTS:
            return None
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise WebhookInvalid("the body is not JSON") from None
        order_id = payload.get("id") if isinstance(payload, dict) else None
        if isinstance(order_id, str) and order_id.isdigit():
            order_id = int(order_id)
        if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
            raise WebhookInvalid(f"the {topic} body has no order id")
        return WebhookDelivery(delivery_id=delivery_key(headers, body, order_id), order_id=str(order_id), topic=topic)

    def is_webhook_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """WC_Webhook::deliver_ping: `webhook_id=<id>`, form-style, no X-WC-* headers."""
        return not header(headers, "X-WC-Webhook-Signature") and re.fullmatch(rb"webhook_id=\d{1,20}", body.strip()) is not None

    def check_webhooks(self) -> None:
        if not self.webhook_secret:
            raise errors.ConfigError([
                "shop.webhook_secret is not set, so every webhook delivery would be refused: set it to the "
                "secret of the shop's order webhooks (`iexsync webhook register` gives them this secret)"
            ])

    def register_webhooks(self, url: str) -> list[dict[str, Any]]:
        """POST /webhooks for order.created and order.updated with the configured secret.

        Webhooks of the same topic already pointing at `url` (an earlier register, perhaps
        with an older secret, or disabled after failures) are deleted once the new one is
        made, so running this again leaves one active webhook per topic. Needs a key with
        write permission."""
        self.check_webhooks()
        existing = self.api.get_all("webhooks", {"status": "all", "per_page": MAX_PER_PAGE},
                                    lambda path, params: self.api.get_list(path, params, "the webhook list"))
        done = []
        for topic in WEBHOOK_TOPICS:
            old = [w.get("id") for w in existing
                   if isinstance(w, dict) and w.get("topic") == topic and _same_url(w.get("delivery_url"), url)]
            created = self._write("POST", "webhooks", json={
                "name": f"iexsync {topic}", "topic": topic, "delivery_url": url,
                "secret": self.webhook_secret, "status": "active",
            })
            for webhook_id in old:
                self._write("DELETE", f"webhooks/{webhook_id}", params={"force": "true"})
            done.append({"topic": topic, "id": created.get("id"), "status": created.get("status"), "replaced": old})
        return done

    def _write(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A webhook write. Never retried: a lost answer says to run register again."""
        try:
            response = self.api.http.request(method, path, **kwargs)
        except errors.OutcomeUnknown as exc:
            raise errors.TemporaryFailure(
                f"{exc.message}; whether the webhook was changed is unknown: run `iexsync webhook register` again "
                "(it replaces the webhooks it made for this URL)") from None
        except errors.RemoteUnavailable as exc:
            raise errors.TemporaryFailure(exc.message) from None
        if response.status_code >= 300:
            code, message, _ = error_of(response)
            if response.status_code in (401, 403) and code:
                raise errors.CredentialsRejected(redaction.redact(
                    f"{WHAT} refused to {'create' if method == 'POST' else 'delete'} a webhook ({response.status_code} "
                    f"{code}: {message}): `iexsync webhook register` needs a REST API key with Read/Write permission; "
                    "or create the webhooks by hand (WooCommerce → Settings → Advanced → Webhooks: topics Order "
                    "created and Order updated, your delivery URL, and shop.webhook_secret as the secret)"))
            try:
                self.api.raise_for(response)
            except errors.OrderError as exc:
                raise errors.UserError(exc.message) from None
        try:
            body = json_body(response, WHAT)
        except errors.OrderError as exc:
            raise errors.UserError(exc.message) from None
        return body if isinstance(body, dict) else {}


def delivery_key(headers: Mapping[str, str], body: bytes, order_id: int) -> str:
    """What tells one delivery from another: WooCommerce's delivery id, the order, and the body.

    WooCommerce 7.x makes X-WC-Webhook-Delivery-ID as wp_hash(webhook id . the current
    second) (WC_Webhook::get_new_delivery_id), so every delivery one webhook sends within a
    second carries the same id, whichever order it is about (seen on a real 7.8.2: five
    orders saved together, five deliveries, one id). The id alone would drop all but the
    first. A replay is the same delivery again: same id, same order, same bytes."""
    sent_id = header(headers, "X-WC-Webhook-Delivery-ID").strip()[:40] or "-"
    return f"{sent_id}:{order_id}:{hashlib.sha256(body).hexdigest()[:16]}"


def header(headers: Mapping[str, str], name: str) -> str:
    """A header in any case (WSGI, requests and tests spell them differently)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "") or ""


def _same_url(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.strip().rstrip("/") == b.strip().rstrip("/")


_WP_ENTITIES = {"&amp;": "&", "&#038;": "&", "&#x26;": "&", "&lt;": "<", "&#060;": "<", "&gt;": ">",
                "&#062;": ">", "&quot;": '"', "&#034;": '"', "&#x22;": '"', "&#039;": "'", "&#x27;": "'"}


def _wp_specialchars_decode(text: str) -> str:
    """WordPress's wp_specialchars_decode(…, ENT_QUOTES): only these entities, nothing else."""
    return re.sub("|".join(map(re.escape, _WP_ENTITIES)), lambda m: _WP_ENTITIES[m.group(0)], text)
