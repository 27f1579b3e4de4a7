"""A fake Shopify GraphQL Admin API (`/admin/api/<version>/graphql.json`) on loopback.

It holds to Shopify's contract in ../shared/vendor/shopify/ (README.md and the captures):
- every query is parsed and validated against the vendored 2025-10 schema with graphql-core
  (an unknown field answers HTTP 200 with `errors[].extensions.code` and no data, as Shopify
  does), then executed by graphql-core over the fake's orders;
- auth: `X-Shopify-Access-Token`; a wrong one → 401 `{"errors": "[API] Invalid API key or
  access token (unrecognized login or wrong password)"}`;
- cost: the documented rule (objects 1, scalars 0, a connection or list asked with
  `first` costs 2 + first × its selection); above 1,000 → MAX_COST_EXCEEDED; a leaky bucket
  (`maximum`, `restore_rate` per second) answers THROTTLED with HTTP 200 and no data when it
  holds less than the requested cost; the actual cost (objects returned) is what it keeps;
- `orders(first, after, query, sortKey: UPDATED_AT|CREATED_AT|ID)`: cursor = base64 JSON
  {last_id, last_value (ms)} by position; search terms `updated_at:>=|>|<=|<'…'`,
  `created_at`, `financial_status:`, `fulfillment_status:`, `status:cancelled|open|closed|any`;
  an unknown field is ignored and reported in `extensions.search[].warnings`;
- without the `read_all_orders` scope, orders created more than 60 days ago are invisible;
- orders are built the way orderCreate builds them (from the captured inputs), with
  Shopify's money: MoneyBags in shop and presentment currency, unpadded decimals.
Test controls: `create_order`, `load_vendor_examples`, `generate`, `pay`, `fulfil`, `cancel`,
`refund`, `edit`, `fail_next` (429 / 500 / THROTTLED / a GraphQL error), `deliver` (webhooks).
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from tests.fakes.server import FakeServer, json_response

REPO = Path(__file__).resolve().parents[2]
VENDOR_DIR = Path(os.environ.get("IEXSYNC_VENDOR_DIR", REPO.parent / "shared" / "vendor")) / "shopify"
SCHEMA_FILE = VENDOR_DIR / "graphql" / "admin-2025-10.schema.graphql"
TOKEN = "shpat_fake0123456789abcdef"
CLIENT_SECRET = "fake-shopify-client-secret"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
MAX_COST = 1000
CENT = Decimal("0.01")


def skip_reason() -> str | None:
    """Why the Shopify contract checks cannot run here (a fresh clone has no ../shared)."""
    try:
        import graphql  # noqa: F401
    except ImportError:
        return "graphql-core is not installed (pip install -e '.[test]')"
    if not SCHEMA_FILE.exists():
        return f"the Shopify contract pack is absent ({VENDOR_DIR})"
    return None


@functools.lru_cache(maxsize=1)
def schema() -> Any:
    import graphql

    return graphql.build_schema(SCHEMA_FILE.read_text())


def vendor(name: str) -> Any:
    return json.loads((VENDOR_DIR / name).read_text())


def amount(value: Decimal) -> str:
    """Shopify's Decimal scalar: no padding ("25.0", "13.5", "0.0")."""
    text = format(value.quantize(CENT).normalize(), "f")
    return text if "." in text else text + ".0"


def bag(shop: Decimal, presentment: Decimal, shop_currency: str, presentment_currency: str) -> dict[str, Any]:
    return {"shopMoney": {"amount": amount(shop), "currencyCode": shop_currency},
            "presentmentMoney": {"amount": amount(presentment), "currencyCode": presentment_currency}}


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Money:
    """An amount in both currencies, summed side by side (never converted)."""

    def __init__(self, shop: Decimal = Decimal(0), presentment: Decimal | None = None):
        self.shop = Decimal(shop)
        self.presentment = Decimal(shop if presentment is None else presentment)

    @classmethod
    def of(cls, value: Any) -> "Money":
        if isinstance(value, Money):
            return value
        if isinstance(value, dict) and "shopMoney" in value:
            return cls(Decimal(value["shopMoney"]["amount"]), Decimal((value.get("presentmentMoney") or value["shopMoney"])["amount"]))
        return cls(Decimal(str(value)))

    def __add__(self, other: "Money") -> "Money":
        return Money(self.shop + other.shop, self.presentment + other.presentment)

    def __sub__(self, other: "Money") -> "Money":
        return Money(self.shop - other.shop, self.presentment - other.presentment)

    def times(self, factor: Decimal) -> "Money":
        return Money((self.shop * factor).quantize(CENT, ROUND_HALF_UP), (self.presentment * factor).quantize(CENT, ROUND_HALF_UP))

    def __bool__(self) -> bool:
        return bool(self.shop or self.presentment)


class ShopifyError(Exception):
    """An error Shopify reports for a field, with its code (BAD_REQUEST, ACCESS_DENIED...)."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


class FakeShopify:
    def __init__(self, *, token: str = TOKEN, scopes: tuple[str, ...] = ("read_orders", "read_all_orders"),
                 maximum: float = 2000, restore_rate: float = 100, now: datetime | None = None,
                 currency: str = "CAD", timezone_name: str = "America/Toronto", client_secret: str = CLIENT_SECRET,
                 country: str = "CA"):
        self.country = country
        self.token = token
        self.scopes = set(scopes)
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.available = maximum
        self.bucket_time = time.monotonic()
        self.currency = currency
        self.timezone_name = timezone_name
        self.client_secret = client_secret
        self.orders: dict[int, dict[str, Any]] = {}
        self.refunds: dict[int, dict[str, Any]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self.faults: list[str] = []  # "429", "500", "THROTTLED", "INTERNAL" answered to the next requests
        self.partial: dict[int, str] = {}  # order id → a field whose read is denied (partial data)
        self.on_query: Callable[[str], None] | None = None  # runs before each orders page is answered
        self.clock = now or datetime.now(timezone.utc).replace(microsecond=0)
        self.next_id = 6100000001000
        self.lock = threading.RLock()
        self.operations: list[str] = []  # operation names in order, for tests
        self.throttled = 0  # THROTTLED answers given
        self.spent = 0.0  # actual cost kept from the bucket over all answers

    # --- HTTP -----------------------------------------------------------------------------
    def app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ["REQUEST_METHOD"] != "POST" or not path.startswith("/admin/api/") or not path.endswith("/graphql.json"):
            return json_response(start_response, 404, {"errors": "Not Found"})
        if environ.get("HTTP_X_SHOPIFY_ACCESS_TOKEN") != self.token:
            return json_response(start_response, 401, {"errors": INVALID_TOKEN})
        with self.lock:
            if self.faults:
                fault = self.faults.pop(0)
                if fault in ("429", "500", "502", "503"):
                    return json_response(start_response, int(fault), {"errors": "fault"}, {"Retry-After": "0"} if fault == "429" else None)
                if fault == "INTERNAL":
                    return json_response(start_response, 200, {"errors": [{"message": "Internal error. Looks like something went wrong on our end.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]})
                if fault == "THROTTLED":  # as a bucket emptied by another app of the same shop
                    self.throttled += 1
                    self._refill()
                    return json_response(start_response, 200, {
                        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {"cost": self._cost(int(self.available) + 50, None)}})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            return json_response(start_response, 400, {"errors": "Bad Request"})
        return json_response(start_response, 200, self.answer(body.get("query") or "", body.get("variables") or {},
                                                               body.get("operationName")))

    def answer(self, text: str, variables: dict[str, Any], operation: str | None) -> dict[str, Any]:
        import graphql

        try:
            document = graphql.parse(text)
        except graphql.GraphQLError as exc:
            return {"errors": [{"message": exc.message, "locations": _locations(exc), "extensions": {"code": "PARSE_ERROR"}}]}
        problems = graphql.validate(schema(), document)
        if problems:
            return {"errors": [_validation_error(p, document) for p in problems]}
        op = graphql.get_operation_ast(document, operation)
        requested = cost_of(document, op, variables)
        if requested > MAX_COST:
            return {"errors": [{"message": f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_COST}).",
                                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_COST}}]}
        with self.lock:
            self.operations.append(op.name.value if op and op.name else "")
            self._refill()
            if self.available < requested:
                self.throttled += 1
                return {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                        "extensions": {"cost": self._cost(requested, None)}}
            self.available -= requested
            context: dict[str, Any] = {"search": [], "errors": []}
            result = graphql.execute(schema(), document, root_value=self._root(op), variable_values=variables,
                                     operation_name=operation, field_resolver=_resolve, context_value=context)
            actual = min(requested, _objects(result.data))
            self.available = min(self.maximum, self.available + requested - actual)
            self.spent += actual
            answer: dict[str, Any] = {"data": result.data}
            errors = [_error(e) for e in result.errors or []] + context["errors"]
            if errors:
                answer["errors"] = errors
            answer["extensions"] = {"cost": self._cost(requested, actual)}
            if context["search"]:
                answer["extensions"]["search"] = context["search"]
            return answer

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.bucket_time) * self.restore_rate)
        self.bucket_time = now

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": {"maximumAvailable": float(self.maximum), "currentlyAvailable": int(self.available),
                                   "restoreRate": float(self.restore_rate)}}

    def _root(self, op: Any) -> dict[str, Any]:
        if op is not None and op.operation.value == "mutation":
            return {"webhookSubscriptionCreate": self._create_webhook, "webhookSubscriptionDelete": self._delete_webhook}
        return {
            "orders": self._orders, "order": self._order, "node": self._node, "ordersCount": self._count,
            "shop": {"ianaTimezone": self.timezone_name, "currencyCode": self.currency,
                     "billingAddress": {"countryCodeV2": self.country}},
            "currentAppInstallation": {"accessScopes": [{"handle": s} for s in sorted(self.scopes)]},
            "webhookSubscriptions": lambda info, **a: {"nodes": [dict(w) for w in self.webhooks]},
        }

    # --- reading --------------------------------------------------------------------------
    def _visible(self, order: dict[str, Any]) -> bool:
        if "read_all_orders" in self.scopes:
            return True
        return _time(order["createdAt"]) >= self.clock - timedelta(days=60)

    def _orders(self, info: Any, first: int | None = None, after: str | None = None, last: int | None = None,
                before: str | None = None, query: str | None = None, sortKey: str = "ID", reverse: bool = False,
                **_: Any) -> dict[str, Any] | None:
        if (first is None) == (last is None):
            raise ShopifyError("you must provide one of first or last" if first is None
                               else "providing both first and last is not supported", "BAD_REQUEST")
        if (first or last or 0) > 250:
            raise ShopifyError("The maximum number of records per page is 250", "BAD_REQUEST")
        if self.on_query:
            self.on_query(query or "")
        selected = self._search(info, query)
        key = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt"}.get(sortKey)
        ordered = sorted(selected, key=lambda o: _sort_value(o, key))
        if reverse:
            ordered.reverse()
        if after:
            mark = json.loads(base64.b64decode(after))
            position = (mark["last_value"], mark["last_id"])
            ordered = [o for o in ordered if ((_sort_value(o, key) > position) != reverse) and _sort_value(o, key) != position]
        page = ordered[:first]
        nodes = [self._node_for(o, info, i) for i, o in enumerate(page)]
        end = _cursor(page[-1], key) if page else None
        return {"nodes": nodes, "edges": [{"node": n, "cursor": _cursor(o, key)} for n, o in zip(nodes, page)],
                "pageInfo": {"hasNextPage": len(ordered) > len(page), "hasPreviousPage": bool(after),
                             "startCursor": _cursor(page[0], key) if page else None, "endCursor": end}}

    def _node_for(self, order: dict[str, Any], info: Any, index: int) -> dict[str, Any]:
        node = copy.deepcopy(order)
        denied = self.partial.get(int(order["legacyResourceId"]))
        if denied:
            node[denied] = None
            info.context["errors"].append({"message": "access denied", "path": [info.path.key, "nodes", index, denied],
                                           "extensions": {"code": "ACCESS_DENIED"}})
        return node

    def _search(self, info: Any, query: str | None) -> list[dict[str, Any]]:
        orders = [o for o in self.orders.values() if self._visible(o)]
        warnings = []
        for term in _terms(query or ""):
            field, _, value = term.partition(":")
            test = _FILTERS.get(field)
            if test is None:
                warnings.append({"field": field, "message": "Invalid search field for this query.", "code": "invalid_field"})
                continue
            orders = [o for o in orders if test(o, value)]
        if warnings:
            info.context["search"].append({"path": [info.path.key], "query": query, "warnings": warnings})
        return orders

    def _order(self, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002 - GraphQL's name
        order = self.orders.get(_numeric(id)) if id.startswith("gid://shopify/Order/") else None
        return copy.deepcopy(order) if order and self._visible(order) else None

    def _node(self, info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002
        if id.startswith("gid://shopify/Refund/"):
            refund = self.refunds.get(_numeric(id))
            return copy.deepcopy(refund) if refund else None
        return self._order(info, id)

    def _count(self, info: Any, query: str | None = None, limit: int | None = 10000, **_: Any) -> dict[str, Any]:
        found = len(self._search(info, query))
        if limit is not None and found > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": found, "precision": "EXACT"}

    # --- webhooks -------------------------------------------------------------------------
    def _create_webhook(self, info: Any, topic: str, webhookSubscription: dict[str, Any], **_: Any) -> dict[str, Any]:
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        if any(w["topic"] == topic and w["uri"] == uri for w in self.webhooks):
            return {"webhookSubscription": None,
                    "userErrors": [{"field": ["webhookSubscription", "callbackUrl"], "message": "Address for this topic has already been taken"}]}
        webhook = {"id": f"gid://shopify/WebhookSubscription/{self._new_id()}", "topic": topic, "uri": uri,
                   "format": webhookSubscription.get("format", "JSON")}
        self.webhooks.append(webhook)
        return {"webhookSubscription": dict(webhook), "userErrors": []}

    def _delete_webhook(self, info: Any, id: str) -> dict[str, Any]:  # noqa: A002
        self.webhooks = [w for w in self.webhooks if w["id"] != id]
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}

    def deliver(self, topic: str, order_id: int, *, webhook_id: str | None = None, secret: str | None = None,
                url: str | None = None) -> tuple[int, bytes, dict[str, str]]:
        """POST a REST-shaped delivery of `topic` for the order to the subscribed address (or `url`)."""
        import requests

        order = self.orders[order_id]
        if topic == "refunds/create":
            body = vendor("webhooks/refunds-create.rest-2025-10.line-items.json")
            body = {**body, "order_id": order_id}
        else:
            body = vendor("webhooks/orders-create.rest-2025-10.discount.json")
            body = {**body, "id": order_id, "name": order["name"], "admin_graphql_api_id": order["id"]}
        raw = json.dumps(body).encode()
        target = url or next(w["uri"] for w in self.webhooks if w["topic"] == topic.upper().replace("/", "_"))
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new((secret or self.client_secret).encode(), raw, hashlib.sha256).digest()).decode(),
            "X-Shopify-Shop-Domain": "fake-shop.myshopify.com", "X-Shopify-API-Version": "2025-10",
            "X-Shopify-Webhook-Id": webhook_id or f"wh-{self._new_id()}", "X-Shopify-Triggered-At": iso(self.clock),
        }
        response = requests.post(target, data=raw, headers=headers, timeout=10)
        return response.status_code, raw, headers

    # --- test controls --------------------------------------------------------------------
    def tick(self, seconds: int = 1) -> datetime:
        """The shop's clock moves; changes made now get this updatedAt (whole seconds)."""
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def _touch(self, order: dict[str, Any]) -> None:
        order["updatedAt"] = iso(self.clock)

    def create_order(self, spec: dict[str, Any], *, name: str | None = None, order_id: int | None = None,
                     created: datetime | None = None, financial: str | None = "auto", fulfilment: str = "UNFULFILLED") -> int:
        """An order built from an orderCreate input (`OrderCreateOrderInput`), Shopify's way:
        discounts allocated onto lines, taxes per line, totals summed per currency."""
        with self.lock:
            order_id = order_id or self._new_id()
            shop_cur = spec.get("currency") or self.currency
            pres_cur = spec.get("presentmentCurrency") or shop_cur
            mk = lambda m: bag(m.shop, m.presentment, shop_cur, pres_cur)  # noqa: E731
            included = bool(spec.get("taxesIncluded"))
            discounts, applications = _discount_spec(spec)
            lines, subtotal, tax_total, discount_total = [], Money(), Money(), Money()
            originals = [Money.of(item["priceSet"]).times(Decimal(item["quantity"])) for item in spec.get("lineItems", [])]
            whole = sum((o.shop for o in originals), Decimal(0))
            for index, (item, original) in enumerate(zip(spec.get("lineItems", []), originals)):
                allocations = []
                for app_index, (kind, value) in enumerate(discounts):
                    if kind == "fixed" and whole:
                        off = value.times(original.shop / whole)
                    elif kind == "percentage":
                        off = original.times(value.shop / 100)
                    else:
                        continue
                    allocations.append({"allocatedAmountSet": mk(off), "discountApplication": dict(applications[app_index])})
                    discount_total += off
                booked = original - sum((Money.of(a["allocatedAmountSet"]) for a in allocations), Money())
                taxes = [{"title": t.get("title") or "Tax", "rate": t["rate"], "ratePercentage": float(Decimal(str(t["rate"])) * 100),
                          "channelLiable": False, "priceSet": mk(Money.of(t["priceSet"]))} for t in item.get("taxLines", [])]
                tax_total += sum((Money.of(t["priceSet"]) for t in taxes), Money())
                subtotal += booked
                unit = Money.of(item["priceSet"])
                lines.append({
                    "id": f"gid://shopify/LineItem/{order_id * 100 + index}", "sku": item.get("sku"),
                    "name": item.get("title"), "title": item.get("title"), "variantTitle": item.get("variantTitle"),
                    "quantity": item["quantity"], "currentQuantity": item["quantity"], "taxable": bool(item.get("taxable", True)),
                    "isGiftCard": bool(item.get("giftCard")), "requiresShipping": bool(item.get("requiresShipping", True)),
                    "variant": None, "customAttributes": item.get("properties") or [],
                    "originalUnitPriceSet": mk(unit), "originalTotalSet": mk(unit.times(Decimal(item["quantity"]))),
                    "discountedUnitPriceAfterAllDiscountsSet": mk(booked.times(Decimal(1) / Decimal(item["quantity"]))),
                    "discountAllocations": allocations, "taxLines": taxes,
                })
            shipping_lines, shipping = [], Money()
            for index, item in enumerate(spec.get("shippingLines", [])):
                price = Money.of(item["priceSet"])
                taxes = [{"title": t.get("title") or "Tax", "rate": t["rate"], "ratePercentage": float(Decimal(str(t["rate"])) * 100),
                          "channelLiable": False, "priceSet": mk(Money.of(t["priceSet"]))} for t in item.get("taxLines", [])]
                tax_total += sum((Money.of(t["priceSet"]) for t in taxes), Money())
                shipping += price
                shipping_lines.append({"id": f"gid://shopify/ShippingLine/{order_id * 100 + index}", "title": item.get("title"),
                                       "code": item.get("code"), "source": item.get("source"), "originalPriceSet": mk(price),
                                       "discountedPriceSet": mk(price), "currentDiscountedPriceSet": mk(price),
                                       "discountAllocations": [], "taxLines": taxes})
            total = subtotal + shipping + (Money() if included else tax_total)
            transactions = [{"id": f"gid://shopify/OrderTransaction/{self._new_id()}", "kind": t["kind"], "status": t.get("status", "SUCCESS"),
                             "gateway": t.get("gateway", "manual"), "processedAt": iso(created or self.clock),
                             "amountSet": mk(Money.of(t["amountSet"]))} for t in spec.get("transactions", [])]
            if financial == "auto":
                financial = spec.get("financialStatus") or _financial_from(transactions, total)
            moment = iso(created or self.clock)
            address = spec.get("shippingAddress")
            order = {
                "__typename": "Order", "id": f"gid://shopify/Order/{order_id}", "legacyResourceId": str(order_id),
                "name": name or f"#{1000 + len(self.orders) + 1}", "createdAt": moment, "processedAt": moment, "updatedAt": iso(self.clock),
                "cancelledAt": None, "cancelReason": None, "closed": False, "closedAt": None, "test": bool(spec.get("test")),
                "displayFinancialStatus": financial, "displayFulfillmentStatus": fulfilment,
                "currencyCode": shop_cur, "presentmentCurrencyCode": pres_cur, "taxesIncluded": included,
                "taxExempt": False, "email": spec.get("email"), "phone": None, "note": spec.get("note"), "poNumber": None,
                "tags": spec.get("tags", []), "paymentGatewayNames": sorted({t["gateway"] for t in transactions}),
                "discountCodes": [a["code"] for a in applications if a.get("code")],
                "customAttributes": spec.get("customAttributes", []),
                "metafields": {"nodes": [{"namespace": m["namespace"], "key": m["key"], "value": m["value"], "type": m.get("type", "single_line_text_field")}
                                         for m in spec.get("metafields", [])]},
                "customer": None,
                "billingAddress": _address(spec.get("billingAddress") or address),
                "shippingAddress": _address(address),
                "subtotalPriceSet": mk(subtotal), "totalShippingPriceSet": mk(shipping), "totalDiscountsSet": mk(discount_total),
                "totalTaxSet": mk(tax_total), "totalPriceSet": mk(total), "currentTotalPriceSet": mk(total),
                "totalRefundedSet": mk(Money()), "totalOutstandingSet": mk(Money() if financial == "PAID" else total),
                "discountApplications": {"nodes": applications},
                "lineItems": {"nodes": lines, "pageInfo": {"hasNextPage": False, "endCursor": None}},
                "shippingLines": {"nodes": shipping_lines}, "transactions": transactions, "refunds": [],
            }
            self.orders[order_id] = order
            return order_id

    def load_vendor_examples(self) -> dict[str, int]:
        """The captured orderCreate cases and the multi-currency order, by case name."""
        ids = {}
        matrix = vendor("graphql/examples/orderCreate.math-matrix.2025-01.json")
        for label, case in matrix["cases"].items():
            captured = case["response"]["payload"]["data"]["orderCreate"]["order"]
            ids[label] = self.create_order(case["variables"]["order"], name=captured["name"], order_id=_numeric(captured["id"]),
                                           financial=captured["displayFinancialStatus"])
            self.tick()
        money_bag = vendor("graphql/examples/money-bag.presentment-currency.2025-01.json")["orderCreate"]
        captured = money_bag["response"]["payload"]["data"]["orderCreate"]["order"]
        ids["moneyBag"] = self.create_order(money_bag["variables"]["order"], order_id=_numeric(captured["id"]), name="#1500")
        self.tick()
        return ids

    def generate(self, count: int, *, same_second: int = 1) -> list[int]:
        """`count` paid orders from the captured paid-with-tax-and-shipping case; `same_second`
        of them share each updatedAt second."""
        spec = vendor("graphql/examples/orderCreate.math-matrix.2025-01.json")["cases"]["paidTaxShipping"]["variables"]["order"]
        made = []
        for index in range(count):
            made.append(self.create_order(spec, name=f"#{20000 + index}"))
            if (index + 1) % same_second == 0:
                self.tick()
        return made

    def change(self, order_id: int, edit: Callable[[dict[str, Any]], None]) -> None:
        with self.lock:
            edit(self.orders[order_id])
            self._touch(self.orders[order_id])

    def pay(self, order_id: int, gateway: str = "manual") -> None:
        def paid(order: dict[str, Any]) -> None:
            order["transactions"].append({"id": f"gid://shopify/OrderTransaction/{self._new_id()}", "kind": "SALE",
                                          "status": "SUCCESS", "gateway": gateway, "processedAt": iso(self.clock),
                                          "amountSet": copy.deepcopy(order["totalOutstandingSet"])})
            order["displayFinancialStatus"] = "PAID"
            order["paymentGatewayNames"] = sorted(set(order["paymentGatewayNames"]) | {gateway})
            order["totalOutstandingSet"] = _zero_bag(order["totalPriceSet"])
        self.change(order_id, paid)

    def fulfil(self, order_id: int) -> None:
        self.change(order_id, lambda o: o.update(displayFulfillmentStatus="FULFILLED"))

    def cancel(self, order_id: int) -> None:
        self.change(order_id, lambda o: o.update(cancelledAt=iso(self.clock), cancelReason="CUSTOMER"))

    def edit(self, order_id: int, line: int, quantity: int) -> None:
        """An order edit before payment: the line's quantity and the totals follow."""
        def edited(order: dict[str, Any]) -> None:
            item = order["lineItems"]["nodes"][line]
            factor = Decimal(quantity) / Decimal(item["quantity"])
            old_total = Money.of(item["originalTotalSet"]) - _sum(item["discountAllocations"], "allocatedAmountSet")
            old_tax = _sum(item["taxLines"], "priceSet")
            item["quantity"] = item["currentQuantity"] = quantity
            item["originalTotalSet"] = _scale(item["originalTotalSet"], factor)
            for allocation in item["discountAllocations"]:
                allocation["allocatedAmountSet"] = _scale(allocation["allocatedAmountSet"], factor)
            for tax in item["taxLines"]:
                tax["priceSet"] = _scale(tax["priceSet"], factor)
            new_total = Money.of(item["originalTotalSet"]) - _sum(item["discountAllocations"], "allocatedAmountSet")
            new_tax = _sum(item["taxLines"], "priceSet")
            delta = new_total - old_total + (Money() if order["taxesIncluded"] else new_tax - old_tax)
            for key, change in (("subtotalPriceSet", new_total - old_total), ("totalTaxSet", new_tax - old_tax),
                                ("totalPriceSet", delta), ("currentTotalPriceSet", delta), ("totalOutstandingSet", delta)):
                order[key] = _add(order[key], change)
        self.change(order_id, edited)

    def refund(self, order_id: int, lines: dict[int, int] | None = None, shipping: str | None = None,
               note: str = "") -> int:
        """A refund of `lines` (line index → quantity) and `shipping` (shop money, before tax),
        with its tax at the lines' own rates; the order's totals and status follow."""
        refund_id = self._new_id()

        def refunded(order: dict[str, Any]) -> None:
            shop_cur, pres_cur = order["currencyCode"], order["presentmentCurrencyCode"]
            mk = lambda m: bag(m.shop, m.presentment, shop_cur, pres_cur)  # noqa: E731
            total, items = Money(), []
            for index, quantity in (lines or {}).items():
                item = order["lineItems"]["nodes"][index]
                share = Decimal(quantity) / Decimal(item["quantity"])
                booked = (Money.of(item["originalTotalSet"]) - _sum(item["discountAllocations"], "allocatedAmountSet")).times(share)
                tax = _sum(item["taxLines"], "priceSet").times(share)
                items.append({"quantity": quantity, "restockType": "RETURN", "lineItem": {"id": item["id"], "sku": item["sku"], "name": item["name"]},
                              "subtotalSet": mk(booked), "totalTaxSet": mk(tax)})
                total += booked + (Money() if order["taxesIncluded"] else tax)
            shipping_items = []
            if shipping:
                line = order["shippingLines"]["nodes"][0]
                price = Money.of(line["originalPriceSet"])
                part = Money(Decimal(shipping), (price.presentment * Decimal(shipping) / price.shop).quantize(CENT, ROUND_HALF_UP))
                rate = sum((Decimal(str(t["rate"])) for t in line["taxLines"]), Decimal(0))
                tax = part.times(rate)
                shipping_items.append({"shippingLine": {"id": line["id"], "title": line["title"]}, "subtotalAmountSet": mk(part), "taxAmountSet": mk(tax)})
                total += part + tax
            refund = {"__typename": "Refund", "id": f"gid://shopify/Refund/{refund_id}", "createdAt": iso(self.clock), "note": note,
                      "totalRefundedSet": mk(total), "refundLineItems": {"nodes": items}, "refundShippingLines": {"nodes": shipping_items}}
            self.refunds[refund_id] = refund
            order["refunds"].append({k: refund[k] for k in ("id", "createdAt", "note", "totalRefundedSet")})
            order["transactions"].append({"id": f"gid://shopify/OrderTransaction/{self._new_id()}", "kind": "REFUND", "status": "SUCCESS",
                                          "gateway": (order["paymentGatewayNames"] or ["manual"])[0], "processedAt": iso(self.clock),
                                          "amountSet": mk(total)})
            order["totalRefundedSet"] = _add(order["totalRefundedSet"], total)
            order["currentTotalPriceSet"] = _add(order["currentTotalPriceSet"], Money() - total)
            fully = Money.of(order["totalRefundedSet"]).shop >= Money.of(order["totalPriceSet"]).shop
            order["displayFinancialStatus"] = "REFUNDED" if fully else "PARTIALLY_REFUNDED"

        self.change(order_id, refunded)
        return refund_id

    def fail_next(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def shop_config(self, server: FakeServer, **overrides: Any) -> dict[str, Any]:
        return {"platform": "shopify", "url": server.url, "access_token": self.token, "api_version": "2025-10",
                "webhook_secret": self.client_secret, **overrides}


class ShopifyServer(FakeServer):
    """A loopback server for one FakeShopify at a time (`use`)."""

    def __init__(self, **kwargs: Any):
        self.fake: FakeShopify | None = None
        super().__init__(self._dispatch, **kwargs)

    def _dispatch(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        assert self.fake is not None, "ShopifyServer.use(fake) first"
        return self.fake.app(environ, start_response)

    def use(self, fake: FakeShopify) -> FakeShopify:
        with self._lock:
            self.requests.clear()
        self.faults, self.latency, self.fake = None, 0.0, fake
        return fake

    def connect(self, **overrides: Any) -> Any:
        from iexsync.shops.shopify import ShopifyShop

        assert self.fake is not None
        return ShopifyShop.from_config(self.fake.shop_config(self, **overrides), REPO)

    def bodies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.calls("POST")]


# --- graphql-core glue ----------------------------------------------------------------------
def _resolve(source: Any, info: Any, **args: Any) -> Any:
    """Dict keys by field name; callables get the arguments; `first` slices plain lists."""
    value = source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None)
    if callable(value):
        return value(info, **args)
    first = args.get("first")
    if first is not None:
        if isinstance(value, list):
            return value[:first]
        if isinstance(value, dict) and isinstance(value.get("nodes"), list):
            # A nested connection: cursors are positions.
            start = json.loads(base64.b64decode(args["after"]))["index"] + 1 if args.get("after") else 0
            nodes = value["nodes"][start:start + first]
            end = start + len(nodes) - 1
            return {**value, "nodes": nodes, "pageInfo": {
                "hasNextPage": len(value["nodes"]) > start + first, "hasPreviousPage": start > 0,
                "endCursor": base64.b64encode(json.dumps({"index": end}).encode()).decode() if nodes else None}}
    return value


def cost_of(document: Any, operation: Any, variables: dict[str, Any]) -> int:
    """Shopify's documented rule: scalars and enums 0, objects 1, a field asked with
    `first`/`last` 2 + that many × its selection."""
    import graphql

    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
    root = schema().mutation_type if operation.operation.value == "mutation" else schema().query_type

    def selections(selection_set: Any, parent: Any) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, graphql.FieldNode):
                total += field_cost(selection, parent)
            elif isinstance(selection, graphql.InlineFragmentNode):
                inner = schema().get_type(selection.type_condition.name.value) if selection.type_condition else parent
                total += selections(selection.selection_set, inner)
            elif isinstance(selection, graphql.FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                total += selections(fragment.selection_set, schema().get_type(fragment.type_condition.name.value))
        return total

    def field_cost(node: Any, parent: Any) -> int:
        if node.name.value.startswith("__") or not hasattr(parent, "fields"):
            return 0
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 0
        named = graphql.get_named_type(definition.type)
        if graphql.is_leaf_type(named):
            return 0
        inner = selections(node.selection_set, named)
        size = None
        for argument in node.arguments:
            if argument.name.value in ("first", "last"):
                size = graphql.value_from_ast(argument.value, graphql.GraphQLInt, variables)
        if size is not None:
            return 2 + int(size) * inner
        return 1 + inner

    return selections(operation.selection_set, root)


def _objects(data: Any) -> int:
    """The actual cost: one point per object returned."""
    if isinstance(data, dict):
        return 1 + sum(_objects(v) for v in data.values())
    if isinstance(data, list):
        return sum(_objects(v) for v in data)
    return 0


def _validation_error(problem: Any, document: Any) -> dict[str, Any]:
    message = problem.message
    code = ("undefinedField" if message.startswith("Cannot query field") else
            "missingRequiredArguments" if "argument" in message and "required" in message else
            "selectionMismatch" if "must have a selection" in message or "must not have a selection" in message else
            "argumentLiteralsIncompatible" if "Expected value of type" in message or "Enum" in message else
            "validationError")
    return {"message": message, "locations": _locations(problem), "extensions": {"code": code}}


def _locations(error: Any) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in error.locations or []]


def _error(error: Any) -> dict[str, Any]:
    """A resolver's ShopifyError keeps its code; anything else is the fake's own fault."""
    code = getattr(error.original_error, "code", "INTERNAL_SERVER_ERROR")
    return {"message": error.message, "locations": _locations(error), "path": error.path or [], "extensions": {"code": code}}


def _terms(query: str) -> list[str]:
    """Space-separated terms; quoted values keep their spaces."""
    terms, current, quoted = [], "", False
    for char in query:
        if char == "'" or char == '"':
            quoted = not quoted
            continue
        if char == " " and not quoted:
            if current:
                terms.append(current)
            current = ""
            continue
        current += char
    if current:
        terms.append(current)
    return terms


def _time_filter(key: str) -> Callable[[dict[str, Any], str], bool]:
    def test(order: dict[str, Any], value: str) -> bool:
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                moment = _time(value[len(op):])
                mine = _time(order[key])
                return {">=": mine >= moment, "<=": mine <= moment, ">": mine > moment, "<": mine < moment}[op]
        return _time(order[key]).date() == _time(value).date()
    return test


def _status(order: dict[str, Any], value: str) -> bool:
    if value == "any":
        return True
    if value == "cancelled":
        return bool(order["cancelledAt"])
    if value == "closed":
        return bool(order["closed"])
    return not order["closed"] and not order["cancelledAt"]  # open


_FILTERS: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "updated_at": _time_filter("updatedAt"),
    "created_at": _time_filter("createdAt"),
    "financial_status": lambda o, v: (o["displayFinancialStatus"] or "").lower() == v.lower(),
    "fulfillment_status": lambda o, v: o["displayFulfillmentStatus"].lower() == v.lower(),
    "status": _status,
    "name": lambda o, v: o["name"].lstrip("#") == v.lstrip("#"),
    "id": lambda o, v: o["legacyResourceId"] == v,
    "tag": lambda o, v: v in o["tags"],
}


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _sort_value(order: dict[str, Any], key: str | None) -> tuple[int, int]:
    ident = int(order["legacyResourceId"])
    if key is None:
        return (ident, ident)
    return (int(_time(order[key]).timestamp() * 1000), ident)


def _cursor(order: dict[str, Any], key: str | None) -> str:
    value, ident = _sort_value(order, key)
    return base64.b64encode(json.dumps({"last_id": ident, "last_value": value}).encode()).decode()


def _numeric(gid: str) -> int:
    return int(str(gid).rsplit("/", 1)[-1])


def _address(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    if not spec:
        return None
    return {"firstName": spec.get("firstName"), "lastName": spec.get("lastName"), "company": spec.get("company"),
            "address1": spec.get("address1"), "address2": spec.get("address2"), "zip": spec.get("zip"),
            "city": spec.get("city"), "provinceCode": spec.get("provinceCode"), "countryCodeV2": spec.get("countryCode"),
            "phone": spec.get("phone")}


def _discount_spec(spec: dict[str, Any]) -> tuple[list[tuple[str, Money]], list[dict[str, Any]]]:
    code = spec.get("discountCode") or {}
    found, applications = [], []
    fixed = code.get("itemFixedDiscountCode")
    if fixed:
        money = Money.of(fixed["amountSet"])
        found.append(("fixed", money))
        applications.append({"__typename": "DiscountCodeApplication", "index": 0, "code": fixed["code"],
                             "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": "LINE_ITEM",
                             "value": {"__typename": "MoneyV2", "amount": amount(money.shop), "currencyCode": spec.get("currency")}})
    percentage = code.get("itemPercentageDiscountCode")
    if percentage:
        found.append(("percentage", Money(Decimal(str(percentage["percentage"])))))
        applications.append({"__typename": "DiscountCodeApplication", "index": len(applications), "code": percentage["code"],
                             "allocationMethod": "ACROSS", "targetSelection": "ALL", "targetType": "LINE_ITEM",
                             "value": {"__typename": "PricingPercentageValue", "percentage": float(percentage["percentage"])}})
    return found, applications


def _financial_from(transactions: list[dict[str, Any]], total: Money) -> str | None:
    paid = sum((Money.of(t["amountSet"]).shop for t in transactions if t["kind"] in ("SALE", "CAPTURE")), Decimal(0))
    if any(t["kind"] == "AUTHORIZATION" for t in transactions) and not paid:
        return "AUTHORIZED"
    if not transactions:
        return None
    return "PAID" if paid >= total.shop else "PARTIALLY_PAID"


def _sum(items: list[dict[str, Any]], key: str) -> Money:
    return sum((Money.of(i[key]) for i in items), Money())


def _scale(value: dict[str, Any], factor: Decimal) -> dict[str, Any]:
    money = Money.of(value).times(factor)
    return bag(money.shop, money.presentment, value["shopMoney"]["currencyCode"], value["presentmentMoney"]["currencyCode"])


def _add(value: dict[str, Any], change: Money) -> dict[str, Any]:
    money = Money.of(value) + change
    return bag(money.shop, money.presentment, value["shopMoney"]["currencyCode"], value["presentmentMoney"]["currencyCode"])


def _zero_bag(value: dict[str, Any]) -> dict[str, Any]:
    return bag(Decimal(0), Decimal(0), value["shopMoney"]["currencyCode"], value["presentmentMoney"]["currencyCode"])
