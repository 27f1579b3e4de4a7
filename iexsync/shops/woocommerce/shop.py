"""The WooCommerce shop: orders from the REST API v3 (`/wp-json/wc/v3`).

Facts this relies on (woocommerce/woocommerce-rest-api-docs, wp-api-v3):
- `GET /orders` takes status (default any), modified_after/modified_before (exclusive,
  WooCommerce 5.8+) + dates_are_gmt, orderby (date|id|include|title|slug), order, page,
  per_page (WordPress caps it at 100), offset; every list answer carries X-WP-Total and
  X-WP-TotalPages (how a pass pages through it: pager.py);
- an order's `refunds` array gives each refund's id, reason and total (negative);
  `GET /orders/<id>/refunds` holds the refunds with their lines; `GET /reports/orders/totals`
  lists every order status the shop knows (custom ones too) with its count.
The API client and its errors are in client.py, webhooks in webhooks.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from iexsync import errors, redaction
from iexsync.http import Client, json_body, strip_query
from iexsync.lazy import LazyModule
from iexsync.shops.base import BrokenOrder, ShopItem, Unchanged
from iexsync.shops.woocommerce.client import MAX_PER_PAGE, WHAT, WooCommerceApi, http_date, int_header, kind
from iexsync.shops.woocommerce.pager import Pager
from iexsync.shops.woocommerce.tax_basis import TAX_BASIS_SCHEMA
from iexsync.shops.woocommerce.webhooks import WooCommerceWebhooks
from iexsync.timeutil import parse_time
from iexsync.toolkit.settings import with_defaults

# The order parser (and the canonical order, VAT rules): loaded by the first order read, and
# an idle run reads none (its listed orders are decided before: skip_unchanged).
parsing = LazyModule("iexsync.shops.woocommerce.order")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from iexsync.model import Order, Refund

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url", "consumer_key", "consumer_secret"],
    "properties": {
        "url": {
            "type": "string", "pattern": "^https?://",
            "description": "The shop's address, e.g. https://shop.example.com (the REST API is found "
                           "under /wp-json/wc/v3 there; a URL that already ends in /wp-json/wc/v3 works too).",
        },
        "consumer_key": {
            "type": "string", "minLength": 4, "writeOnly": True,
            "description": "The REST API consumer key (ck_…), from WooCommerce → Settings → Advanced → REST API. "
                           "Read permission is enough.",
        },
        "consumer_secret": {
            "type": "string", "minLength": 4, "writeOnly": True,
            "description": "The consumer secret (cs_…) shown once when the key was made.",
        },
        "webhook_secret": {
            "type": ["string", "null"], "default": None, "writeOnly": True,
            "description": "The secret of the shop's order webhooks (WooCommerce → Settings → Advanced → Webhooks); "
                           "without it every webhook delivery is refused.",
        },
        "query_string_auth": {
            "type": "boolean", "default": False,
            "description": "Send the key and secret as query parameters instead of the Authorization header, "
                           "for servers that drop that header (WooCommerce then answers 401 'Sorry, you cannot "
                           "list resources.'). HTTPS only: refused for an http:// url, which is signed with "
                           "OAuth 1.0a instead.",
        },
        "allow_insecure_http": {
            "type": "boolean", "default": False,
            "description": "Allow a plain http:// url that is not this machine. Requests are then signed with "
                           "OAuth 1.0a (the secret is never sent), but the orders and the consumer key travel in clear.",
        },
        "ca_bundle": {
            "type": ["string", "null"], "default": None,
            "description": "A PEM file with the CA certificate(s) to trust for `url` (relative to the config file), "
                           "for a shop whose certificate a private CA signed. Empty: the system's trusted CAs.",
        },
        "per_page": {
            "type": "integer", "minimum": 2, "maximum": MAX_PER_PAGE, "default": MAX_PER_PAGE,
            "description": "Orders per request. Lower it only if the site caps page sizes below 100 or "
                           "times out on big pages (at least 2: where the shop's answers lack X-WP-Total, consecutive "
                           "pages overlap by one order).",
        },
        "timeout": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
            "description": "Seconds to wait for an answer before the request is retried (reads are retried 4 "
                           "times with growing pauses).",
        },
        "rate_limit": {
            "type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
            "description": "At most this many requests per second, for hosts that limit the REST API "
                           "(WooCommerce itself has no limit). Empty: no limit.",
        },
        "recheck_days": {
            "type": "integer", "minimum": 0, "maximum": 366, "default": 14,
            "description": "Orders with a document transferred in this many days are re-read, per_page of them at "
                           "a time (one request) in rotation, to catch item edits that WooCommerce's posts storage "
                           "saves without moving date_modified. 0: off.",
        },
        "recheck_minutes": {
            "type": "integer", "minimum": 0, "maximum": 1440, "default": 30,
            "description": "Those orders are re-read at most once in this many minutes (a run in between skips "
                           "it), so an edit is caught within ceil(orders / per_page) times this. 0: every run.",
        },
        "tax_based_on": TAX_BASIS_SCHEMA,
    },
}


class WooCommerceShop(WooCommerceWebhooks):
    name = "woocommerce"
    # `iexsync config init`'s section ({at}: what starter_at asked for)
    starter = """shop:
  platform: woocommerce
  url: {at}                 # the shop's address; the REST API is under /wp-json/wc/v3
  consumer_key: ${{WC_CONSUMER_KEY}}        # WooCommerce → Settings → Advanced → REST API (Read)
  consumer_secret: ${{WC_CONSUMER_SECRET}}
  # webhook_secret: ${{WC_WEBHOOK_SECRET}}  # for `iexsync webhook serve`
"""
    starter_at = ("Shop address", "https://shop.example.com")
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = CONFIG_SCHEMA

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        webhook_secret: str | None = None,
        query_string_auth: bool = False,
        allow_insecure_http: bool = False,
        per_page: int = MAX_PER_PAGE,
        timeout: float = 30,
        rate_limit: float | None = None,
        ca_bundle: str | None = None,
        recheck_days: int = 14,
        recheck_minutes: int = 30,
        retries: int = 4,
        backoff: float = 0.5,
        tax_basis: str = "shipping",
    ):
        for secret in (consumer_key, consumer_secret, webhook_secret):
            if secret:
                redaction.register(secret)  # the config loader does too; a direct caller may not
        if consumer_key.startswith("cs_") and consumer_secret.startswith("ck_"):
            raise errors.ConfigError(["shop.consumer_key and shop.consumer_secret are swapped (the key starts ck_)"])
        if not 2 <= per_page <= MAX_PER_PAGE:
            raise errors.ConfigError([f"shop.per_page is {per_page}; it must be between 2 and {MAX_PER_PAGE}"])
        self.per_page = per_page
        self.recheck_days = recheck_days  # see iexsync.recheck
        self.recheck_batch = per_page  # one request
        self.recheck_minutes = recheck_minutes
        self.tax_basis = tax_basis
        self.webhook_secret = webhook_secret or None
        self.api = WooCommerceApi(
            url, consumer_key, consumer_secret, query_string_auth=query_string_auth,
            allow_insecure_http=allow_insecure_http, per_page=per_page, timeout=timeout, rate_limit=rate_limit,
            ca_bundle=ca_bundle, retries=retries, backoff=backoff,
        )
        self.api_url = self.api.api_url
        self._unchanged: Callable[[str, dict[str, Any]], bool] | None = None

    def skip_unchanged(self, unchanged: Callable[[str, dict[str, Any]], bool] | None) -> None:
        """Listed orders for which `unchanged(order_id, raw)` holds (the engine's: decided
        before exactly as they are) come back as Unchanged, not parsed: an idle run lists a
        page of orders decided long ago and the recheck another, and reading those into
        Orders was most of its work after start-up. An order asked for by id is always read."""
        self._unchanged = unchanged

    @property
    def client(self) -> Client:
        """The HTTP client (calls counted by the bench go through it)."""
        return self.api.http

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "WooCommerceShop":
        given = with_defaults(CONFIG_SCHEMA, section)
        return cls(
            given["url"],
            given["consumer_key"],
            given["consumer_secret"],
            webhook_secret=given["webhook_secret"],
            query_string_auth=bool(given["query_string_auth"]),
            allow_insecure_http=bool(given["allow_insecure_http"]),
            per_page=int(given["per_page"]),
            timeout=float(given["timeout"]),
            rate_limit=given["rate_limit"],
            ca_bundle=str(base_dir / Path(given["ca_bundle"]).expanduser()) if given["ca_bundle"] else None,
            tax_basis=given["tax_based_on"],
            recheck_days=int(given["recheck_days"]),
            recheck_minutes=int(given["recheck_minutes"]),
        )

    # --- orders ---------------------------------------------------------------------------
    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Every order modified at or after `since` (all if None), any status, streamed,
        each once; N orders take ceil(N / per_page) list calls (the decisions: pager.py).
        `Link` headers are not followed: they are page-numbered, and they repeat the
        request's query (with query_string_auth, the credentials)."""
        pager = Pager(self.per_page, since)
        while True:
            offset = pager.start()
            answer = self._orders_page(pager.params, offset)
            while (again := pager.answered(offset, _first_id(answer.orders), answer.total)) is not None:
                offset = again
                answer = self._orders_page(pager.params, offset)
            ids = [_order_id(raw) for raw in answer.orders]
            pager.page(offset, ids, answer.total, answer.date)
            for raw, order_id in zip(answer.orders, ids):
                if order_id and order_id <= pager.last_id:
                    continue  # read already: not parsed again
                item = self._listed(raw)
                if pager.take(order_id, item.modified, item.order_id):
                    yield item
            if pager.done():
                return
            answer = ids = None  # type: ignore[assignment]  # let this page go before the next arrives

    def _orders_page(self, params: dict[str, Any], offset: int) -> "_Answer":
        """One page of the order list. A failure escapes as OrderError; the engine makes it
        the run's (the cursor stays)."""
        response = self.api.get("orders", {**params, "offset": offset})
        body = json_body(response, WHAT)
        if not isinstance(body, list):
            raise errors.TemporaryFailure(
                f"{WHAT}: {strip_query(response.url)} answered {kind(body)} where a list of orders belongs"
            )
        return _Answer(body, int_header(response, "X-WP-Total"), http_date(response.headers.get("Date")))

    def _listed(self, raw: Any) -> ShopItem:
        """A listed order: Unchanged when `skip_unchanged`'s test says so, else `_item`."""
        if self._unchanged is not None and _order_id(raw):
            modified = _modified(raw)
            if modified is not None and self._unchanged(str(raw["id"]), raw):
                return Unchanged(str(raw["id"]), modified)
        return self._item(raw)

    def _item(self, raw: Any) -> ShopItem:
        """The canonical order (its refunds as the order lists them), or a BrokenOrder for
        this order alone."""
        try:
            return parsing.parse_order(raw, tax_basis=self.tax_basis)
        except errors.OrderInvalid as exc:
            return _broken(raw, exc.message)

    def get_order(self, order_id: str) -> ShopItem:
        """One order by id. A missing order raises OrderInvalid; trouble reaching the shop
        raises RemoteUnavailable (retried on a later run); bad keys stop the run."""
        if not str(order_id).isdigit():
            raise errors.OrderInvalid(f"{order_id!r} is not a WooCommerce order id (a whole number)")
        response = self.api.get(f"orders/{int(order_id)}")
        raw = json_body(response, WHAT)
        if not isinstance(raw, dict):
            raise errors.OrderInvalid(f"{WHAT} answered {kind(raw)} for order {order_id}, expected an object")
        return self._item(raw)

    def orders_by_id(self, order_ids: list[str]) -> list[ShopItem]:
        """These orders (at most per_page), in one request: GET /orders?include=…; an order
        the shop no longer has is simply not among them. For `iexsync.recheck`."""
        ids = [str(int(order_id)) for order_id in order_ids if str(order_id).isdigit()][:self.per_page]
        if not ids:
            return []
        _, body = self.api.get_list("orders", {"include": ",".join(ids), "status": "any", "per_page": len(ids),
                                               "orderby": "id", "order": "asc"}, "the order list")
        return [self._listed(raw) for raw in body]

    def refunds(self, order: Order) -> tuple[Refund, ...]:
        """The order's refunds with their returned lines, from GET /orders/<id>/refunds (the
        order itself lists only id, amount and reason). Asked only for refunds not credited
        yet, so a settled order costs no call. Trouble reaching the shop raises
        RemoteUnavailable (the order is retried next run); anything else OrderInvalid."""
        if not order.refunds:
            return ()
        if not order.order_id.isdigit():
            raise errors.OrderInvalid(f"its refunds cannot be read: {order.order_id!r} is not a WooCommerce order id")
        detailed = self.api.get_all(f"orders/{int(order.order_id)}/refunds", {}, self._refund_page)
        return amounts_from_summary(order, parsing.parse_refunds(order, detailed))

    def _refund_page(self, path: str, params: dict[str, Any]) -> tuple[Any, list[Any]]:
        """One page of an order's refund objects: its failures are that order's error."""
        try:
            response = self.api.get(path, params)
            body = json_body(response, WHAT)
        except errors.RemoteUnavailable:
            raise  # transient: the order is retried on the next run
        except errors.OrderError as exc:
            raise errors.OrderInvalid(f"its refunds cannot be read: {exc.message}") from None
        if not isinstance(body, list):
            raise errors.OrderInvalid(f"its refunds are {kind(body)}, expected a list")
        return response, body

    def states(self) -> list[tuple[str, int | None]]:
        """Every status the shop knows, custom ones included, with how many orders are in it.

        The statuses come from /reports/orders/totals, the counts from the orders list
        (X-WP-Total of GET /orders?status=<slug>&per_page=1, one call a status): with HPOS
        order storage WooCommerce 7.8's report still counts the posts table, which the
        order tables no longer write (seen on a real 7.8.2: 19 processing orders reported,
        23 listed). No X-WP-Total (a proxy strips it): the count is unknown (None)."""
        _, body = self.api.get_list("reports/orders/totals", {}, "the order totals report")
        result: list[tuple[str, int | None]] = []
        for entry in body:
            if isinstance(entry, dict) and isinstance(entry.get("slug"), str):
                response, _ = self.api.get_list("orders", {"status": entry["slug"], "per_page": 1}, "the order list")
                result.append((entry["slug"], int_header(response, "X-WP-Total")))
        return result

    def close(self) -> None:
        self.api.close()


@dataclass
class _Answer:
    """One page of GET /orders: the orders, X-WP-Total, and the shop's clock (Date)."""

    orders: list[Any]
    total: int | None
    date: datetime | None


def amounts_from_summary(order: Order, refunds: tuple[Refund, ...]) -> tuple[Refund, ...]:
    """The refunds, with amount and reason from the order's own `refunds` summary where the
    refunds endpoint shows WooCommerce's HPOS bug.

    With HPOS order storage, WooCommerce 7.8's GET /orders/<id>/refunds answers "amount":
    "0.00", an empty reason and refunded_by 0 for every refund (its lines are right), while
    the order's `refunds[]` (each refund's id, reason and -total) is right: seen on a real
    7.8.2. So a 0.00 the summary contradicts takes the summary's amount. Any other
    disagreement, or a 0.00 no summary entry vouches for, stops this order with an error:
    nothing is credited at an amount nobody can vouch for."""
    summary = {refund.refund_id: refund for refund in order.refunds}
    fixed = []
    for refund in refunds:
        listed = summary.get(refund.refund_id)
        where = f"refund {refund.refund_id}: GET /orders/{order.order_id}/refunds says its amount is {refund.amount}"
        if listed is None and not refund.amount:
            raise errors.OrderInvalid(
                f"{where}, and the order's own refunds list does not name it, so its amount is unknown "
                "(WooCommerce with HPOS order storage answers 0.00 there); nothing is credited")
        if listed is not None and refund.amount != listed.amount:
            if refund.amount:
                raise errors.OrderInvalid(
                    f"{where}, the order's own refunds list says {listed.amount}; nothing is credited "
                    "until they agree")
            refund = dataclasses.replace(refund, amount=listed.amount, reason=refund.reason or listed.reason)
        fixed.append(refund)
    return tuple(fixed)


def _broken(raw: Any, error: str) -> BrokenOrder:
    raw = raw if isinstance(raw, dict) else {"value": raw}
    modified = None
    try:
        modified = parse_time(raw.get("date_modified_gmt"), "date_modified_gmt")
    except ValueError:
        pass
    return BrokenOrder(
        order_id=_broken_id(raw),
        error=error,
        number=str(raw.get("number") or ""),
        state=str(raw.get("status") or ""),
        modified=modified,
        raw=raw,
    )


def _modified(raw: dict[str, Any]) -> datetime | None:
    """The instant the order was last modified, as parse_order reads it (the GMT field,
    else the local one taken as UTC); None if neither reads."""
    for key in ("date_modified_gmt", "date_modified"):
        if raw.get(key):
            try:
                return parse_time(raw[key], key)
            except ValueError:
                return None
    return None


def _order_id(raw: Any) -> int:
    """The id the pager orders by; an order without one sorts first and is read as broken."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), int) and not isinstance(raw.get("id"), bool):
        return raw["id"]
    return 0


def _first_id(orders: list[Any]) -> int | None:
    return _order_id(orders[0]) if orders else None


def _broken_id(raw: Any) -> str:
    """The order's id if it has a usable one; else one made from its content, so two broken
    orders without ids are two log entries, not one."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) and str(raw_id).strip():
        return str(raw_id)
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"woocommerce:{digest}"
