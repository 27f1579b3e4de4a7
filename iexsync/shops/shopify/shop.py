"""The Shopify shop: orders from the GraphQL Admin API, paged by `updatedAt`.

One job per module beside this one: `client` (cost budget, retries, errors), `queries` (the
documents), `order` (an order node → Order), `states` (financial + fulfilment), `webhooks`
(signatures, deliveries, subscriptions), `config` (the `shop:` section).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from iexsync import errors
from iexsync.model import Order, Refund
from iexsync.shops.base import BrokenOrder, ShopItem, WebhookDelivery
from iexsync.shops.shopify import queries, states, webhooks
from iexsync.shops.shopify.client import Answer, CostExceeded, GraphQLClient, GraphQLErrors
from iexsync.shops.shopify.config import CONFIG_SCHEMA, ShopifySettings
from iexsync.shops.shopify.order import order_gid, parse_order, parse_refund
from iexsync.timeutil import parse_time, utc_now

MAX_QUERY_COST = 1000  # Shopify refuses a single query above this, whatever the bucket holds
RECENT_DAYS = 60  # without read_all_orders an app sees only orders this recent


class ShopifyShop:
    name = "shopify"
    # `iexsync config init`'s section ({at}: what starter_at asked for)
    starter = """shop:
  platform: shopify
  url: {at}        # the shop's admin address
  access_token: ${{SHOPIFY_ACCESS_TOKEN}}     # a custom app's Admin API token (read_orders, read_all_orders)
  # webhook_secret: ${{SHOPIFY_WEBHOOK_SECRET}} # the app's client secret, for `iexsync webhook serve`
"""
    starter_at = ("Shop address", "https://my-shop.myshopify.com")
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = CONFIG_SCHEMA

    def __init__(self, settings: ShopifySettings, *, backoff: float = 0.5):
        self.settings = settings
        self.client = GraphQLClient(settings.endpoint(), settings.access_token,
                                    allow_insecure_http=settings.allow_insecure_http, timeout=settings.timeout,
                                    backoff=backoff)
        self.page_size = settings.page_size
        self.order_cost: float | None = None  # requested points per order in a page, learnt from answers
        self._zone: tzinfo | None = None
        self._country = ""  # the shop's own country, read with its time zone
        self._scopes: set[str] | None = None
        self.webhooks = webhooks.Webhooks(self.client, settings.webhook_secret)

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "ShopifyShop":
        return cls(ShopifySettings.from_section(section))

    # --- orders ---------------------------------------------------------------------------
    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Every order updated at or after `since`, oldest change first, each once per pass.

        `sortKey: UPDATED_AT` with Shopify's cursors (by position: the last order's id and
        time), so two orders saved in the same second are both read; an order saved again
        during the pass moves behind the cursor and is read there (once: its id is skipped
        the second time; the engine's cursor and overlap take its newer state next run)."""
        self._check_history(since)
        search = ""
        if since is not None:
            moment = since.astimezone(timezone.utc).replace(microsecond=0)  # Shopify keeps whole seconds
            search = f"updated_at:>='{moment.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
        after: str | None = None
        seen: set[str] = set()
        while True:
            answer = self._page(search, after)
            connection = answer.data.get("orders") or {}
            nodes = connection.get("nodes") or []
            for index, raw in enumerate(nodes):
                item = self._item(raw, answer.errors_under("orders", "nodes", index))
                if item.order_id in seen:
                    continue
                seen.add(item.order_id)
                yield item
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage") or not nodes:
                return
            after = info.get("endCursor")

    def _page(self, search: str, after: str | None) -> Answer:
        """One page, as many orders as the cost limit allows: learnt from each answer's
        requested cost, and halved on MAX_COST_EXCEEDED."""
        while True:
            first = self._page_size()
            operation, document = queries.ORDERS_PAGE
            try:
                answer = self.client.query(operation, document, {"first": first, "after": after, "query": search})
            except CostExceeded as exc:
                if first == 1:
                    raise errors.UserError(f"Shopify refuses even one order per page (cost {exc.cost} > {exc.max_cost})") from None
                self.order_cost = max(self.order_cost or 0, exc.cost / first)  # the next size fits the limit
                continue
            if answer.requested_cost:
                self.order_cost = answer.requested_cost / first
            return answer

    def _page_size(self) -> int:
        if not self.order_cost:
            return self.page_size
        budget = MAX_QUERY_COST
        if self.client.bucket.maximum:
            budget = min(budget, self.client.bucket.maximum)
        return max(1, min(self.page_size, int(budget // self.order_cost)))

    def _item(self, raw: Any, problems: list[dict[str, Any]]) -> ShopItem:
        order_id = _legacy_id(raw)
        if problems:
            fields = "; ".join(_where(p) for p in problems)
            return BrokenOrder(order_id=order_id, error=f"Shopify could not give every field of the order: {fields}",
                               number=str((raw or {}).get("name") or "").lstrip("#"), raw=raw if isinstance(raw, dict) else {})
        try:
            self._complete_lines(raw)
            return parse_order(raw, currency=self.settings.currency, zone=self.zone(), shop_country=self._country)
        except errors.OrderInvalid as exc:
            return BrokenOrder(order_id=order_id, error=exc.message, number=str(raw.get("name") or "").lstrip("#"),
                               modified=_time(raw.get("updatedAt")), raw=raw if isinstance(raw, dict) else {})

    def _complete_lines(self, raw: dict[str, Any]) -> None:
        """Lines beyond the first page of an order's lineItems, read with their own query."""
        lines = raw.get("lineItems")
        while isinstance(lines, dict) and (lines.get("pageInfo") or {}).get("hasNextPage"):
            operation, document = queries.ORDER_LINES
            answer = self.client.query(operation, document, {"id": raw["id"], "after": lines["pageInfo"].get("endCursor")})
            more = ((answer.data.get("order") or {}).get("lineItems")) or {}
            lines["nodes"] = list(lines.get("nodes") or []) + list(more.get("nodes") or [])
            lines["pageInfo"] = more.get("pageInfo") or {}

    def get_order(self, order_id: str) -> ShopItem:
        operation, document = queries.ORDER
        answer = self.client.query(operation, document, {"id": order_gid(order_id)})
        raw = answer.data.get("order")
        if raw is None:
            raise errors.OrderInvalid(f"Shopify has no order {order_id} (deleted, or not visible to this app)")
        return self._item(raw, answer.errors_under("order"))

    def refunds(self, order: Order) -> tuple[Refund, ...]:
        """Each refund with its lines and shipping, one request per refund (only those the
        engine still has to credit reach here, through order.refunds)."""
        found = []
        for summary in order.refunds:
            operation, document = queries.REFUND
            try:
                answer = self.client.query(operation, document, {"id": f"gid://shopify/Refund/{summary.refund_id}"})
            except GraphQLErrors as exc:
                raise errors.OrderInvalid(f"its refund {summary.refund_id} cannot be read: {exc.message}") from None
            raw = answer.data.get("node")
            if not isinstance(raw, dict):
                raise errors.OrderInvalid(f"Shopify has no refund {summary.refund_id}")
            found.append(parse_refund(order, raw, currency=self.settings.currency))
        return tuple(found)

    def _check_history(self, since: datetime | None) -> None:
        """Shopify hides orders older than 60 days from apps without read_all_orders: say so
        rather than transfer a history with holes."""
        if since is not None and since > utc_now() - timedelta(days=RECENT_DAYS - 1):
            return
        if "read_all_orders" in self.scopes():
            return
        start = "from the beginning" if since is None else f"since {since.date()}"
        raise errors.CredentialsRejected(
            f"Shopify shows this app only orders of the last {RECENT_DAYS} days, and iexsync must read orders {start}: "
            "grant the app the read_all_orders scope (Settings → Apps and sales channels → Develop apps → your app → "
            "Configuration → Admin API scopes), then reinstall it")

    def scopes(self) -> set[str]:
        if self._scopes is None:
            operation, document = queries.SCOPES
            answer = self.client.query(operation, document)
            listed = ((answer.data.get("currentAppInstallation") or {}).get("accessScopes")) or []
            self._scopes = {str(s.get("handle")) for s in listed if isinstance(s, dict)}
        return self._scopes

    def zone(self) -> tzinfo:
        """The shop's time zone, for document dates (read once)."""
        if self._zone is None:
            operation, document = queries.SHOP
            shop = (self.client.query(operation, document).data.get("shop")) or {}
            name = shop.get("ianaTimezone")
            self._country = str((shop.get("billingAddress") or {}).get("countryCodeV2") or "").upper()
            try:
                self._zone = ZoneInfo(str(name)) if name else timezone.utc
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = timezone.utc
        return self._zone

    # --- states ---------------------------------------------------------------------------
    def states(self) -> list[tuple[str, int | None]]:
        """Financial statuses, then fulfilment statuses, then cancelled, with their counts."""
        names = [*states.FINANCIAL, *states.FULFILMENT, states.CANCELLED]
        searches = {f"s{i}": states.search_query(name) for i, name in enumerate(names)}
        operation, document = queries.count_states({k: v for k, v in searches.items() if v})
        data = self.client.query(operation, document).data
        return [(name, (data.get(f"s{i}") or {}).get("count") if searches[f"s{i}"] else None)
                for i, name in enumerate(names)]

    def state_match(self, state: str, allowed: tuple[str, ...]) -> tuple[str | None, str]:
        return states.match(state, allowed)

    # --- webhooks -------------------------------------------------------------------------
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        return self.webhooks.verify(headers, body)

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery | None:
        return self.webhooks.delivery(headers, body)

    def is_webhook_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        return False  # Shopify sends no handshake

    def check_webhooks(self) -> None:
        self.webhooks.check()

    def register_webhooks(self, url: str) -> list[dict[str, Any]]:
        return self.webhooks.register(url)

    def close(self) -> None:
        self.client.close()


def _legacy_id(raw: Any) -> str:
    if not isinstance(raw, dict):
        return ""
    return str(raw.get("legacyResourceId") or str(raw.get("id") or "").rsplit("/", 1)[-1])


def _where(problem: Mapping[str, Any]) -> str:
    path = [str(p) for p in problem.get("path") or []]
    # ["orders", "nodes", 3, "customer"] → customer: the field within the order
    inner = path[3:] if path[:2] == ["orders", "nodes"] else path[1:]
    code = (problem.get("extensions") or {}).get("code")
    return f"{'.'.join(inner) or 'order'}: {problem.get('message')}" + (f" ({code})" if code else "")


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value, "updatedAt")
    except ValueError:
        return None
