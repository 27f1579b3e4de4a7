"""A faithful fake of e-conomic's REST API (restapi.e-conomic.com), as a WSGI app.

Serve it with tests/fakes/server.py's FakeServer; `FakeEconomic.serve()` does that:

    fake = FakeEconomic()
    with fake.serve(latency=0.01, faults=...) as server:
        ... server.url ...

What it reproduces, from e-conomic/slate @ f6bf5a4 (and ../shared/vendor/economic/README.md):
- auth by X-AppSecretToken + X-AgreementGrantToken: 401 when missing or wrong (with a demo
  link), 403 for resources the grant does not cover (`forbidden=`);
- every POST/PUT body validated against the vendor-doc schemas (JSON Schema draft-07 as
  transcribed), nulls refused, referenced resources checked, unit prices with more than
  two decimals refused (E04740); 400s in the "annotated errors" shape;
- collections with skippages/pagesize (default 20, max 1000), `pagination` links,
  `?filter=` on each collection's documented filterable properties, `?sort=`;
- 201 + Location on create; drafts numbered; POST /invoices/booked deletes the draft
  and creates a booked invoice with its own number; PUT replaces a whole draft;
- e-conomic computing netAmount/vatAmount/grossAmount itself from the lines.
  [ours] VAT: in the domestic VAT zone each line is taxed at its product group's rate;
  every other zone (EU, abroad, exempt) is 0 %. Each line's net is rounded half up to
  the cent; the VAT is the sum, per rate, of the lines' nets times the rate, rounded
  half up once per rate (the way a Danish invoice shows one VAT amount on its VAT base).
  The real rounding rule is not documented.
- a fair-use style rate limit (`rate_limit=(requests, seconds)`) answering 429 with Retry-After.

Lines marked [ours] are our choices where the docs are silent; [3P] from third-party captures.
Test helpers: `count("POST /invoices/drafts")`, `received(...)` bodies, the stores
(`customers`, `products`, `drafts`, `booked`, `orders`), `add_customer`, `add_product`,
`documents_with_reference`, and `fault_once` for FakeServer's fault injection.
"""

from __future__ import annotations

import copy
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from jsonschema import Draft7Validator

from tests.fakes import economic_filter
from tests.fakes.server import Fault, FakeServer, Recorded
from tests.vendor import VENDOR

APP_SECRET_TOKEN = "fake-app-secret-token"
AGREEMENT_GRANT_TOKEN = "fake-agreement-grant-token"

# The vendor-doc schemas live beside the repo in shared/vendor (tests/vendor.py).
SCHEMA_DIR = VENDOR / "economic"
# Each vendor schema → our own description of the part iexsync sends (tests/contract/economic).
SCHEMAS = {"invoices.drafts.post": "document", "orders.drafts.post": "document", "invoices.booked.post": "booking",
           "customers.post": "customer", "products.post": "product"}
OURS = Path(__file__).resolve().parents[1] / "contract" / "economic"
CENT = Decimal("0.01")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000

_DOCUMENT_COMMON = (
    "currency customer.customerNumber date delivery.address delivery.city delivery.country "
    "delivery.deliveryDate delivery.deliveryTerms delivery.zip deliveryLocation.deliveryLocationNumber "
    "notes.heading notes.textLine1 notes.textLine2 paymentTerms.paymentTermsNumber recipient.address "
    "recipient.city recipient.country recipient.ean recipient.name recipient.publicEntryNumber recipient.zip "
    "references.customerContact.customer.customerNumber references.other references.salesPerson.employeeNumber "
    "references.vendorReference.employeeNumber"
).split()
FILTERABLE = {
    "invoices/drafts": set(_DOCUMENT_COMMON) | {"draftInvoiceNumber", "exchangeRate", "soap.currentInvoiceHandle.id"},
    "invoices/booked": set(_DOCUMENT_COMMON) | {"bookedInvoiceNumber", "recipient.vatZone.vatZoneNumber"},
    "orders": set(_DOCUMENT_COMMON) | {"exchangeRate", "orderNumber", "soap.orderHandle.id"},
    "customers": set(
        "address balance barred city corporateIdentificationNumber country creditLimit currency customerNumber "
        "ean email lastUpdated name publicEntryNumber telephoneAndFaxNumber vatNumber website zip".split()
    ),
    "products": set(
        "barCode barred costPrice departmentalDistribution.departmentalDistributionNumber description "
        "inventory.grossWeight inventory.netWeight inventory.packageVolume inventory.recommendedCostPrice "
        "lastUpdated name productGroup.productGroupNumber productNumber recommendedPrice salesPrice "
        "unit.unitNumber".split()
    ),
}

# e-conomic's own replacements in resource URLs (`_introduction.md`, self-link encoding).
_SELF_LINK_CODES = {
    "_0_": "<", "_1_": ">", "_2_": "*", "_3_": "%", "_4_": ":", "_5_": "&", "_6_": "/",
    "_7_": "\\", "_8_": "_", "_9_": " ", "_10_": "?", "_11_": ".", "_12_": "#", "_13_": "+",
}
_SELF_LINK_ENCODE = {v: k for k, v in _SELF_LINK_CODES.items()}


def decode_resource_id(segment: str) -> str:
    return re.sub(r"_(1[0-3]|[0-9])_", lambda m: _SELF_LINK_CODES[m.group()], unquote(segment))


def encode_resource_id(value: str) -> str:
    return "".join(
        _SELF_LINK_ENCODE.get(c) or (c if c.isascii() and c.isalnum() else quote(c, safe="")) for c in value
    )


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Reply(Exception):
    """Raised inside a handler to answer at once (errors, mostly)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class FakeEconomic:
    def __init__(
        self,
        *,
        app_secret_token: str = APP_SECRET_TOKEN,
        agreement_grant_token: str = AGREEMENT_GRANT_TOKEN,
        base_currency: str = "DKK",
        group_rates: dict[int, Decimal] | None = None,
        rate_limit: tuple[int, float] | None = None,
        forbidden: Iterable[str] = (),
    ):
        self.app_secret_token = app_secret_token
        self.agreement_grant_token = agreement_grant_token
        self.base_currency = base_currency
        self.forbidden = tuple(forbidden)
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.bodies: list[tuple[str, dict[str, Any]]] = []  # ("POST /invoices/drafts", body) in order
        self._rate = rate_limit
        self._window: list[float] = []
        # Every write is checked against the vendor's schema when this clone has it (CI
        # does); without it, against our own description of what iexsync sends, which
        # tests/contract checks against the vendor's in CI.
        self._validators = {name: Draft7Validator(write_schema(name)) for name in SCHEMAS}
        self._seed(group_rates or {1: Decimal("25"), 2: Decimal("0")})
        self._routes = self._route_table()

    # --- seed data: a standard Danish agreement ------------------------------------------
    def _seed(self, group_rates: dict[int, Decimal]) -> None:
        self.layouts = {
            19: {"layoutNumber": 19, "name": "Standard layout"},
            21: {"layoutNumber": 21, "name": "Layout with bank details"},
        }
        self.payment_terms = {
            1: {"paymentTermsNumber": 1, "name": "Netto 8 dage", "daysOfCredit": 8, "paymentTermsType": "net"},
            2: {"paymentTermsNumber": 2, "name": "Lobende maned 14 dage", "daysOfCredit": 14, "paymentTermsType": "invoiceMonth"},
            3: {"paymentTermsNumber": 3, "name": "Kontant", "daysOfCredit": 0, "paymentTermsType": "paidInCash"},
            4: {"paymentTermsNumber": 4, "name": "Kreditkort", "daysOfCredit": 0, "paymentTermsType": "creditcard"},
        }
        self.customer_groups = {
            1: {"customerGroupNumber": 1, "name": "Indenlandske kunder"},
            2: {"customerGroupNumber": 2, "name": "Udenlandske kunder"},
        }
        # [ours] `applies_vat` is not an API field: it is how the fake decides VAT.
        self.vat_zones = {
            1: {"vatZoneNumber": 1, "name": "Domestic", "enabledForCustomer": True, "enabledForSupplier": True},
            2: {"vatZoneNumber": 2, "name": "EU", "enabledForCustomer": True, "enabledForSupplier": True},
            3: {"vatZoneNumber": 3, "name": "Abroad", "enabledForCustomer": True, "enabledForSupplier": True},
            4: {"vatZoneNumber": 4, "name": "Domestic exempt", "enabledForCustomer": True, "enabledForSupplier": True},
        }
        self.zone_applies_vat = {1: True, 2: False, 3: False, 4: False}
        self.product_groups = {
            number: {"productGroupNumber": number, "name": f"Varer {rate.normalize():f}% moms"}
            for number, rate in group_rates.items()
        }
        self.group_rates = dict(group_rates)
        self.currencies = {  # exchange rate: base-currency cost of 100 units [ours: fixed rates]
            "DKK": Decimal(100), "EUR": Decimal("746.00"), "USD": Decimal("690.00"), "SEK": Decimal("65.00"),
            "NOK": Decimal("64.00"), "GBP": Decimal("870.00"),
        }
        self.units = {1: {"unitNumber": 1, "name": "stk."}}
        self.customers: dict[int, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.drafts: dict[int, dict[str, Any]] = {}
        self.booked: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, dict[str, Any]] = {}
        self.sent_orders: dict[int, dict[str, Any]] = {}
        self.archived_orders: dict[int, dict[str, Any]] = {}
        self._next = {"draft": 1, "booked": 1, "order": 1}

    # --- test helpers -------------------------------------------------------------------
    def serve(self, **kwargs: Any) -> FakeServer:
        """A FakeServer for this app; use as a context manager. kwargs: latency, faults."""
        return FakeServer(self, **kwargs)

    def count(self, route: str) -> int:
        """Requests that reached a route, e.g. count("GET /customers") or count("GET /products/{productNumber}")."""
        with self.lock:
            return self.calls[route]

    def received(self, route: str) -> list[dict[str, Any]]:
        """The JSON bodies sent to a route, in order."""
        with self.lock:
            return [copy.deepcopy(body) for name, body in self.bodies if name == route]

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            number = fields.pop("customerNumber", None) or max(self.customers, default=0) + 1
            card = {
                "customerNumber": number, "currency": self.base_currency,
                "customerGroup": {"customerGroupNumber": 1}, "paymentTerms": {"paymentTermsNumber": 1},
                "vatZone": {"vatZoneNumber": 1}, "name": f"Customer {number}", **fields,
            }
            self.customers[number] = card
            return card

    def add_product(self, number: str, group: int = 1, **fields: Any) -> dict[str, Any]:
        with self.lock:
            product = {"productNumber": number, "name": fields.pop("name", number), "productGroup": {"productGroupNumber": group}, **fields}
            self.products[number] = product
            return product

    def documents_with_reference(self, reference: str) -> list[tuple[str, dict[str, Any]]]:
        """Every stored document (draft, booked, order) whose references.other is `reference`."""
        with self.lock:
            stores = {
                "invoices/drafts": self.drafts, "invoices/booked": self.booked, "orders/drafts": self.orders,
                "orders/sent": self.sent_orders, "orders/archived": self.archived_orders,
            }
            return [
                (where, copy.deepcopy(doc))
                for where, store in stores.items()
                for doc in store.values()
                if (doc.get("references") or {}).get("other") == reference
            ]

    def mark_order_sent(self, number: int) -> None:
        with self.lock:
            self.sent_orders[number] = self.orders.pop(number)

    # --- what the bookkeeper does in e-conomic's own screens ----------------------------
    def book_by_hand(self, draft_number: int) -> int:
        """The bookkeeper books an invoice draft (the default `book: false` leaves that to
        them): a booked invoice with the next number; returns that number."""
        with self.lock:
            return self._booked_from_draft(draft_number)["bookedInvoiceNumber"]

    def convert_order(self, order_number: int) -> int:
        """The bookkeeper invoices an order (e-conomic's order → invoice flow, the "upgrade
        to invoice draft" of GET /orders/drafts/:n/templates/upgrade-instructions/draftInvoice):
        an invoice draft made from the order, carrying its customer, recipient, lines, notes
        and references (`references.other` too: [ours], the template is the order's own
        document as a draftInvoice); a draft order leaves /orders/drafts, a sent one is
        archived in /orders/archived (the docs). Returns the invoice draft's number."""
        with self.lock:
            if order_number in self.orders:
                order = self.orders.pop(order_number)
            else:
                order = self.sent_orders.pop(order_number)
                self.archived_orders[order_number] = copy.deepcopy(order)
            draft = {k: copy.deepcopy(v) for k, v in order.items() if k not in ("orderNumber", "templates")}
            number = self._next["draft"]
            self._next["draft"] += 1
            draft["draftInvoiceNumber"] = number
            draft["soap"] = {"currentInvoiceHandle": {"id": 1000 + number}}
            self.drafts[number] = draft
            return number

    # --- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        base = f"http://{environ.get('HTTP_HOST', 'localhost')}"
        method = environ["REQUEST_METHOD"]
        path = "/" + environ.get("PATH_INFO", "").strip("/")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        with self.lock:
            try:
                status, body, headers = self._handle(environ, base, method, path, query, raw)
            except Reply as reply:
                status, body, headers = reply.status, reply.body, reply.headers
        payload = b"" if body is None else dumps(body).encode()
        reasons = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
                   403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 415: "Unsupported Media Type",
                   429: "Too Many Requests", 500: "Internal Server Error"}
        start_response(
            f"{status} {reasons.get(status, 'Status')}",
            [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(payload))), *headers.items()],
        )
        return [payload]

    def _handle(self, environ: dict[str, Any], base: str, method: str, path: str, query: dict[str, str], raw: bytes):
        route = self._match(method, path)
        name, handler, params = route
        self.calls[f"{method} {name}"] += 1
        self._authorize(environ, base, path, query)
        self._throttle()
        body = None
        if method in ("POST", "PUT"):
            body = self._read_json(environ, raw)
            self.bodies.append((f"{method} {name}", copy.deepcopy(body)))
        request = _Request(method, path, query, body, base)
        return handler(request, **params)

    def _match(self, method: str, path: str) -> tuple[str, Callable, dict[str, str]]:
        known_path = False
        for route_method, pattern, name, handler in self._routes:
            found = pattern.fullmatch(path)
            if found:
                known_path = True
                if route_method == method:
                    return name, handler, found.groupdict()
        if known_path:
            raise Reply(405, _error(405, f"The method {method} is not allowed on {path}.", "PATCH is not supported; PUT the full document to a resource, POST to a collection."))
        raise Reply(404, _error(404, "Not found.", f"No resource at {path}."))

    def _authorize(self, environ: dict[str, Any], base: str, path: str, query: dict[str, str]) -> None:
        secret = environ.get("HTTP_X_APPSECRETTOKEN")
        grant = environ.get("HTTP_X_AGREEMENTGRANTTOKEN")
        if secret != self.app_secret_token or grant != self.agreement_grant_token:
            body = _error(401, "Unauthorized.", "Supply valid X-AppSecretToken and X-AgreementGrantToken headers.")
            body["demoLink"] = f"{base}{path}?demo=true"  # [ours] field name; the docs only say a demo link is included
            raise Reply(401, body)
        if any(path.startswith(prefix) for prefix in self.forbidden):
            raise Reply(403, _error(403, "Forbidden.", "The grant's roles do not cover this resource."))

    def _throttle(self) -> None:
        if not self._rate:
            return
        limit, seconds = self._rate
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < seconds]
        if len(self._window) >= limit:
            wait = seconds - (now - self._window[0])
            raise Reply(429, _error(429, "Too many requests.", "Slow down; see Retry-After."), {"Retry-After": str(max(1, math.ceil(wait)))})
        self._window.append(now)

    @staticmethod
    def _read_json(environ: dict[str, Any], raw: bytes) -> Any:
        if "application/json" not in environ.get("CONTENT_TYPE", ""):
            raise Reply(415, _error(415, "Unsupported Media Type.", "Send Content-Type: application/json."))
        try:
            return json.loads(raw or b"null", parse_float=Decimal)
        except ValueError as exc:
            raise Reply(400, _error(400, "Could not parse the request body as JSON.", str(exc))) from None

    def _route_table(self) -> list[tuple[str, re.Pattern[str], str, Callable]]:
        n = r"(?P<number>-?[0-9]+)"
        table = [
            ("GET", "/", "/", self._root),
            ("GET", "/self", "/self", self._self),
            ("GET", "/invoices", "/invoices", self._invoices_root),
            ("GET", "/orders", "/orders", self._orders_root),
        ]
        for path, store, key in (
            ("/layouts", "layouts", "layoutNumber"), ("/payment-terms", "payment_terms", "paymentTermsNumber"),
            ("/customer-groups", "customer_groups", "customerGroupNumber"), ("/vat-zones", "vat_zones", "vatZoneNumber"),
            ("/product-groups", "product_groups", "productGroupNumber"), ("/units", "units", "unitNumber"),
        ):
            table += [
                ("GET", path, path, self._settings_list(path, store)),
                ("GET", f"{path}/{n}", f"{path}/{{{key}}}", self._settings_item(path, store)),
            ]
        table += [
            ("GET", "/currencies", "/currencies", self._currencies),
            ("GET", "/customers", "/customers", self._list("customers", self.customers_view, "customerNumber")),
            ("POST", "/customers", "/customers", self._create_customer),
            ("GET", f"/customers/{n}", "/customers/{customerNumber}", self._get_customer),
            ("PUT", f"/customers/{n}", "/customers/{customerNumber}", self._put_customer),
            ("DELETE", f"/customers/{n}", "/customers/{customerNumber}", self._delete_customer),
            ("GET", "/products", "/products", self._list("products", self.products_view, "productNumber")),
            ("POST", "/products", "/products", self._create_product),
            ("GET", r"/products/(?P<product>[^/]+)", "/products/{productNumber}", self._get_product),
            ("PUT", r"/products/(?P<product>[^/]+)", "/products/{productNumber}", self._put_product),
            ("DELETE", r"/products/(?P<product>[^/]+)", "/products/{productNumber}", self._delete_product),
            ("GET", "/invoices/drafts", "/invoices/drafts", self._list("invoices/drafts", lambda: self.drafts.values(), "draftInvoiceNumber", brief=True)),
            ("POST", "/invoices/drafts", "/invoices/drafts", self._create_draft),
            ("DELETE", "/invoices/drafts", "/invoices/drafts", self._delete_drafts),
            ("GET", f"/invoices/drafts/{n}", "/invoices/drafts/{draftInvoiceNumber}", self._get_in(self.drafts, "draft invoice")),
            ("PUT", f"/invoices/drafts/{n}", "/invoices/drafts/{draftInvoiceNumber}", self._put_draft),
            ("DELETE", f"/invoices/drafts/{n}", "/invoices/drafts/{draftInvoiceNumber}", self._delete_draft),
            ("GET", "/invoices/booked", "/invoices/booked", self._list("invoices/booked", lambda: self.booked.values(), "bookedInvoiceNumber", brief=True)),
            ("POST", "/invoices/booked", "/invoices/booked", self._book),
            ("GET", f"/invoices/booked/{n}", "/invoices/booked/{bookedInvoiceNumber}", self._get_in(self.booked, "booked invoice")),
            ("PUT", f"/invoices/booked/{n}", "/invoices/booked/{bookWithNumber}", self._book_with_number),
            ("GET", "/orders/drafts", "/orders/drafts", self._list("orders", lambda: self.orders.values(), "orderNumber", path="orders/drafts", brief=True)),
            ("POST", "/orders/drafts", "/orders/drafts", self._create_order),
            ("GET", f"/orders/drafts/{n}", "/orders/drafts/{orderNumber}", self._get_in(self.orders, "order")),
            ("PUT", f"/orders/drafts/{n}", "/orders/drafts/{orderNumber}", self._put_order),
            ("DELETE", f"/orders/drafts/{n}", "/orders/drafts/{orderNumber}", self._delete_order),
            ("GET", "/orders/sent", "/orders/sent", self._list("orders", lambda: self.sent_orders.values(), "orderNumber", path="orders/sent", brief=True)),
            ("GET", "/orders/archived", "/orders/archived", self._list("orders", lambda: self.archived_orders.values(), "orderNumber", path="orders/archived", brief=True)),
        ]
        return [(method, re.compile(pattern), name, handler) for method, pattern, name, handler in table]

    # --- simple resources ---------------------------------------------------------------
    def _root(self, request: "_Request") -> tuple:
        links = ["customers", "products", "invoices", "orders", "layouts", "payment-terms", "customer-groups",
                 "vat-zones", "product-groups", "units", "currencies", "self"]
        return 200, {**{name: f"{request.base}/{name}" for name in links}, "self": f"{request.base}/"}, {}

    def _self(self, request: "_Request") -> tuple:
        return 200, {
            "agreementNumber": 123456, "userName": "fake", "company": {"name": "Fake Webshop ApS", "vatNumber": "12345678"},
            "application": {"name": "iexsync tests"}, "self": f"{request.base}/self",
        }, {}

    def _invoices_root(self, request: "_Request") -> tuple:
        return 200, {k: f"{request.base}/invoices/{k}" for k in ("drafts", "booked")} | {"self": f"{request.base}/invoices"}, {}

    def _orders_root(self, request: "_Request") -> tuple:
        return 200, {k: f"{request.base}/orders/{k}" for k in ("drafts", "sent", "archived")} | {"self": f"{request.base}/orders"}, {}

    def _settings_list(self, path: str, store: str) -> Callable:
        def handler(request: _Request) -> tuple:
            items = [{**item, "self": f"{request.base}{path}/{next(iter(item.values()))}"} for item in getattr(self, store).values()]
            return 200, self._page(request, path.strip("/"), items), {}
        return handler

    def _settings_item(self, path: str, store: str) -> Callable:
        def handler(request: _Request, number: str) -> tuple:
            item = getattr(self, store).get(int(number))
            if item is None:
                raise Reply(404, _error(404, "Not found.", f"No {path.strip('/')} with number {number}."))
            return 200, {**item, "self": f"{request.base}{path}/{number}"}, {}
        return handler

    def _currencies(self, request: "_Request") -> tuple:
        items = [{"code": code, "name": code, "self": f"{request.base}/currencies/{code}"} for code in self.currencies]
        return 200, self._page(request, "currencies", items), {}

    # --- collections --------------------------------------------------------------------
    def customers_view(self) -> Iterable[dict[str, Any]]:
        return self.customers.values()

    def products_view(self) -> Iterable[dict[str, Any]]:
        return self.products.values()

    def _list(self, kind: str, items: Callable[[], Iterable[dict[str, Any]]], default_sort: str, *, path: str | None = None, brief: bool = False) -> Callable:
        path = path or kind

        def handler(request: _Request) -> tuple:
            everything = [self._view(path, item, request.base, brief=brief) for item in items()]
            found = everything
            if "filter" in request.query:
                found = self._filter(kind, request.query["filter"], everything)
            found = self._sort(request.query.get("sort"), found, default_sort, kind)
            return 200, self._page(request, path, found, total=len(everything)), {}

        return handler

    def _filter(self, kind: str, text: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        allowed = FILTERABLE.get(kind, set())
        try:
            tree = economic_filter.parse(text)
            refused = [f for f in economic_filter.fields(tree) if f not in allowed]
            if refused:
                raise economic_filter.FilterError(f"Filtering is not allowed on property '{refused[0]}'.")
            return [item for item in items if economic_filter.matches(tree, item)]
        except economic_filter.FilterError as exc:
            body = _error(400, "Could not parse query string filter.", "See the filtering section of the documentation.")
            body["errors"] = [str(exc)]  # [3P] shape seen in captured responses
            body["allowedFilteringFields"] = sorted(allowed)
            raise Reply(400, body) from None

    @staticmethod
    def _sort(sort: str | None, items: list[dict[str, Any]], default: str, kind: str) -> list[dict[str, Any]]:
        keys = [k for k in (sort or default).split(",") if k]
        for key in reversed(keys):
            descending = key.startswith("-")
            key = key.lstrip("-")
            alphabetic = key.startswith("~")
            key = key.lstrip("~")
            if key not in FILTERABLE.get(kind, {default}) and key != default:
                raise Reply(400, _error(400, f"Sorting is not allowed on property '{key}'.", "Sort on a sortable property."))

            def value(item: dict[str, Any], key: str = key, alphabetic: bool = alphabetic) -> tuple:
                found: Any = item
                for part in key.split("."):
                    found = found.get(part) if isinstance(found, dict) else None
                if found is None:
                    return (0, "")
                if alphabetic or isinstance(found, str):
                    return (1, str(found).casefold())
                return (2, found)

            items = sorted(items, key=value, reverse=descending)
        return items

    def _page(self, request: "_Request", path: str, items: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
        try:
            skip = int(request.query.get("skippages", 0))
            size = int(request.query.get("pagesize", DEFAULT_PAGE_SIZE))
        except ValueError:
            raise Reply(400, _error(400, "skippages and pagesize must be whole numbers.", "")) from None
        if size < 1 or size > MAX_PAGE_SIZE or skip < 0:
            raise Reply(400, _error(400, f"pagesize must be between 1 and {MAX_PAGE_SIZE}, skippages at least 0.", ""))  # [ours]
        last = max(0, math.ceil(len(items) / size) - 1)

        def link(page: int) -> str:
            params = {k: v for k, v in request.query.items() if k not in ("skippages", "pagesize")}
            return f"{request.base}/{path}?{urlencode({**params, 'skippages': page, 'pagesize': size})}"

        pagination = {
            "maxPageSizeAllowed": MAX_PAGE_SIZE, "skipPages": skip, "pageSize": size, "results": len(items),
            "resultsWithoutFilter": len(items) if total is None else total, "firstPage": link(0), "lastPage": link(last),
        }
        if skip < last:
            pagination["nextPage"] = link(skip + 1)
        if 0 < skip <= last + 1:
            pagination["previousPage"] = link(skip - 1)
        return {
            "collection": items[skip * size:(skip + 1) * size],
            "pagination": pagination,
            "metaData": {},
            "self": f"{request.base}/{path}" + (f"?{urlencode(request.query)}" if request.query else ""),
        }

    def _view(self, path: str, item: dict[str, Any], base: str, *, brief: bool = False) -> dict[str, Any]:
        """A stored item as the API shows it: self links filled in; collections omit lines."""
        view = copy.deepcopy(item)
        if brief:
            view.pop("lines", None)  # the collection schemas list no lines
        _link(view, base)
        key = {"customers": "customerNumber", "products": "productNumber", "invoices/drafts": "draftInvoiceNumber",
               "invoices/booked": "bookedInvoiceNumber"}.get(path, "orderNumber")
        ident = view[key]
        view["self"] = f"{base}/{path}/{encode_resource_id(ident) if isinstance(ident, str) else ident}"
        return view

    # --- validation ---------------------------------------------------------------------
    def _validate(self, schema: str, body: Any, tree: dict[str, Any] | None = None) -> None:
        """Schema and null checks; with `tree`, errors are collected there for the caller's own checks."""
        if not isinstance(body, dict):
            raise Reply(400, _error(400, "Validation error.", "The body must be a JSON object."))
        collect = tree is not None
        tree = {} if tree is None else tree
        for path in _null_paths(body, []):
            _annotate(tree, path, {"errorCode": "FAKE_NULL", "message": "null is not accepted; leave the property out.",  # [ours] code
                                   "developerHint": "To null a property, exclude it from your JSON."})
        for error in self._validators[schema].iter_errors(body):
            if error.instance is None:
                continue  # reported above as a null
            path = list(error.absolute_path)
            if error.validator == "required":
                missing = re.search(r"'([^']+)' is a required property", error.message)
                path.append(missing.group(1) if missing else "?")
                message = f"Property {path[-1]} is required."
            else:
                message = f"{path[-1] if path else 'body'}: {error.message}"
            entry = {"errorCode": "FAKE_SCHEMA", "message": message, "developerHint": "Check the property against the schema."}  # [ours] code
            if not isinstance(error.instance, (dict, list)) and error.validator != "required":
                entry["value"] = error.instance
            _annotate(tree, path, entry)
        if tree and not collect:
            raise Reply(400, _validation(tree))

    def _reference_exists(self, tree: dict[str, Any], path: list[Any], ref: Any, store: dict, key: str, what: str, listing: str, *, numeric: bool = True) -> Any:
        """Check a `{"<key>": n}` or `{"self": url}` reference; return the id or None."""
        if not isinstance(ref, dict):
            return None
        ident = ref.get(key)
        if ident is None and isinstance(ref.get("self"), str):
            tail = ref["self"].rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            ident = (int(tail) if tail.lstrip("-").isdigit() else None) if numeric else decode_resource_id(tail)
        if ident is None:
            _annotate(tree, path, {"errorCode": "E04500", "message": f"No identifiers present on {what}. Please include either a self link or a {key}.",
                                   "developerHint": f"Find a list of resources at https://restapi.e-conomic.com/{listing}."})
            return None
        if ident not in store:
            _annotate(tree, path, {"errorCode": "E06000", "message": f"{what} does not exist.", "value": ident,
                                   "developerHint": f"Find a list of {listing} at https://restapi.e-conomic.com/{listing}."})
            return None
        return ident

    def _check_document(self, body: dict[str, Any], tree: dict[str, Any]) -> None:
        """What the schema cannot say (references exist, price scale); all errors in one answer."""
        currency = body.get("currency")
        if isinstance(currency, str) and currency.upper() not in self.currencies:
            _annotate(tree, ["currency"], {"errorCode": "E06000", "message": "currency does not exist.", "value": currency,
                                           "developerHint": "Find a list of currencies at https://restapi.e-conomic.com/currencies."})
        self._reference_exists(tree, ["customer"], body.get("customer"), self.customers, "customerNumber", "customer", "customers")
        self._reference_exists(tree, ["layout"], body.get("layout"), self.layouts, "layoutNumber", "layout", "layouts")
        self._reference_exists(tree, ["paymentTerms"], body.get("paymentTerms"), self.payment_terms, "paymentTermsNumber", "paymentTerms", "payment-terms")
        recipient = body.get("recipient")
        if isinstance(recipient, dict) and "vatZone" in recipient:
            self._reference_exists(tree, ["recipient", "vatZone"], recipient["vatZone"], self.vat_zones, "vatZoneNumber", "vatZone", "vat-zones")
        for index, line in enumerate(body.get("lines") or []):
            if not isinstance(line, dict):
                continue
            if "product" in line:
                self._reference_exists(tree, ["lines", index, "product"], line["product"], self.products, "productNumber", "product", "products", numeric=False)
                if "quantity" not in line:
                    _annotate(tree, ["lines", index, "quantity"], {"errorCode": "E04730", "message": "Property quantity must have a value when product is set.",
                                                                 "developerHint": "Please check your request data."})
            if "unit" in line:
                self._reference_exists(tree, ["lines", index, "unit"], line["unit"], self.units, "unitNumber", "unit", "units")
            price = line.get("unitNetPrice")
            if isinstance(price, (int, Decimal)) and not isinstance(price, bool) and _scale(Decimal(price)) > 2:
                _annotate(tree, ["lines", index, "unitNetPrice"], {"errorCode": "E04740", "message": "unitNetPrice scale cannot be greater then two decimal places.",
                                                                  "value": price, "developerHint": "Please check the format of your data."})
        if tree:
            raise Reply(400, _validation(tree))

    # --- customers and products ---------------------------------------------------------
    def _customer_body(self, request: "_Request", number: int | None) -> dict[str, Any]:
        body = request.body
        tree: dict[str, Any] = {}
        self._validate("customers.post", body, tree)
        currency = body.get("currency")
        if isinstance(currency, str) and currency.upper() not in self.currencies:
            _annotate(tree, ["currency"], {"errorCode": "E06000", "message": "currency does not exist.", "value": currency})
        self._reference_exists(tree, ["customerGroup"], body.get("customerGroup"), self.customer_groups, "customerGroupNumber", "customerGroup", "customer-groups")
        self._reference_exists(tree, ["paymentTerms"], body.get("paymentTerms"), self.payment_terms, "paymentTermsNumber", "paymentTerms", "payment-terms")
        self._reference_exists(tree, ["vatZone"], body.get("vatZone"), self.vat_zones, "vatZoneNumber", "vatZone", "vat-zones")
        given = body.get("customerNumber")
        given = given if isinstance(given, int) else None
        if number is None and given in self.customers:
            _annotate(tree, ["customerNumber"], {"errorCode": "FAKE_DUPLICATE", "message": "customerNumber is already in use.", "value": given})  # [ours] code
        if number is not None and given not in (None, number):
            _annotate(tree, ["customerNumber"], {"errorCode": "FAKE_MISMATCH", "message": "customerNumber does not match the URL.", "value": given})  # [ours]
        if tree:
            raise Reply(400, _validation(tree))
        card = _stored(body)
        card["customerNumber"] = number or given or max(self.customers, default=0) + 1
        card["lastUpdated"] = _now()
        card.setdefault("balance", Decimal(0))
        return card

    def _create_customer(self, request: "_Request") -> tuple:
        card = self._customer_body(request, None)
        self.customers[card["customerNumber"]] = card
        view = self._view("customers", card, request.base)
        return 201, view, {"Location": view["self"]}

    def _get_customer(self, request: "_Request", number: str) -> tuple:
        card = self.customers.get(int(number))
        if card is None:
            raise Reply(404, _error(404, "Customer not found.", f"No customer number {number}."))
        return 200, self._view("customers", card, request.base), {}

    def _put_customer(self, request: "_Request", number: str) -> tuple:
        if int(number) not in self.customers:
            raise Reply(404, _error(404, "Customer not found.", f"No customer number {number}."))
        card = self._customer_body(request, int(number))
        self.customers[int(number)] = card
        return 200, self._view("customers", card, request.base), {}

    def _delete_customer(self, request: "_Request", number: str) -> tuple:
        if self.customers.pop(int(number), None) is None:
            raise Reply(404, _error(404, "Customer not found.", ""))
        return 204, None, {}

    def _product_body(self, request: "_Request", number: str | None) -> dict[str, Any]:
        body = request.body
        tree: dict[str, Any] = {}
        self._validate("products.post", body, tree)
        self._reference_exists(tree, ["productGroup"], body.get("productGroup"), self.product_groups, "productGroupNumber", "productGroup", "product-groups")
        if number is None and isinstance(body.get("productNumber"), str) and body["productNumber"] in self.products:
            _annotate(tree, ["productNumber"], {"errorCode": "FAKE_DUPLICATE", "message": "productNumber is already in use.", "value": body["productNumber"]})  # [ours]
        if number is not None and body.get("productNumber") != number:
            _annotate(tree, ["productNumber"], {"errorCode": "FAKE_MISMATCH", "message": "productNumber does not match the URL.", "value": body.get("productNumber")})
        if tree:
            raise Reply(400, _validation(tree))
        product = _stored(body)
        product["lastUpdated"] = _now()
        return product

    def _create_product(self, request: "_Request") -> tuple:
        product = self._product_body(request, None)
        self.products[product["productNumber"]] = product
        view = self._view("products", product, request.base)
        return 201, view, {"Location": view["self"]}

    def _get_product(self, request: "_Request", product: str) -> tuple:
        found = self.products.get(decode_resource_id(product))
        if found is None:
            raise Reply(404, _error(404, "Product not found.", f"No product {decode_resource_id(product)!r}."))
        return 200, self._view("products", found, request.base), {}

    def _put_product(self, request: "_Request", product: str) -> tuple:
        number = decode_resource_id(product)
        if number not in self.products:
            raise Reply(404, _error(404, "Product not found.", ""))
        self.products[number] = self._product_body(request, number)
        return 200, self._view("products", self.products[number], request.base), {}

    def _delete_product(self, request: "_Request", product: str) -> tuple:
        if self.products.pop(decode_resource_id(product), None) is None:
            raise Reply(404, _error(404, "Product not found.", ""))
        return 204, None, {}

    # --- invoice and order drafts -------------------------------------------------------
    def _document(self, request: "_Request", schema: str, number_key: str, number: int | None) -> dict[str, Any]:
        body = request.body
        tree: dict[str, Any] = {}
        self._validate(schema, body, tree)
        if number is not None and body.get(number_key) not in (None, number):
            _annotate(tree, [number_key], {"errorCode": "FAKE_MISMATCH", "message": f"{number_key} does not match the URL.", "value": body.get(number_key)})  # [ours]
        self._check_document(body, tree)
        document = _stored(body)
        for key in ("netAmount", "vatAmount", "grossAmount", "grossAmountInBaseCurrency", "netAmountInBaseCurrency",
                    "roundingAmount", "marginInBaseCurrency", "marginPercentage", "costPriceInBaseCurrency"):
            document.pop(key, None)  # read-only: e-conomic computes them
        self._compute(document)
        return document

    def _compute(self, document: dict[str, Any]) -> None:
        zone = int(document["recipient"]["vatZone"].get("vatZoneNumber") or _tail_number(document["recipient"]["vatZone"]["self"]))
        applies = self.zone_applies_vat.get(zone, False)
        net = Decimal(0)
        base_by_rate: dict[Decimal, Decimal] = {}
        for line in document.get("lines") or []:
            quantity = Decimal(line.get("quantity", 0))
            price = Decimal(line.get("unitNetPrice", 0))
            discount = Decimal(line.get("discountPercentage", 0))
            total = money(quantity * price * (1 - discount / 100))
            rate = Decimal(0)
            if applies and "product" in line:
                number = line["product"].get("productNumber") or decode_resource_id(line["product"]["self"].rsplit("/", 1)[-1])
                group = int(self.products[number]["productGroup"].get("productGroupNumber") or _tail_number(self.products[number]["productGroup"]["self"]))
                rate = self.group_rates.get(group, Decimal(0))
            line["totalNetAmount"] = total
            net += total
            base_by_rate[rate] = base_by_rate.get(rate, Decimal(0)) + total
        vat = sum((money(base * rate / 100) for rate, base in base_by_rate.items()), Decimal("0.00"))
        rate = Decimal(document.get("exchangeRate") or self.currencies[document["currency"].upper()] * 100 / self.currencies[self.base_currency])
        document.update(
            netAmount=net, vatAmount=vat, grossAmount=net + vat, exchangeRate=rate, roundingAmount=Decimal("0.00"),
            netAmountInBaseCurrency=money(net * rate / 100), grossAmountInBaseCurrency=money((net + vat) * rate / 100),
            costPriceInBaseCurrency=Decimal("0.00"), marginInBaseCurrency=money(net * rate / 100),
        )
        terms = self.payment_terms[document["paymentTerms"].get("paymentTermsNumber") or _tail_number(document["paymentTerms"]["self"])]
        document["paymentTerms"] = {**terms}
        document["dueDate"] = (date.fromisoformat(document["date"]) + timedelta(days=terms["daysOfCredit"])).isoformat()
        zone_info = self.vat_zones[zone]
        document["recipient"]["vatZone"] = {**zone_info}

    def _create_draft(self, request: "_Request") -> tuple:
        document = self._document(request, "invoices.drafts.post", "draftInvoiceNumber", None)
        number = self._next["draft"]
        self._next["draft"] += 1
        document["draftInvoiceNumber"] = number
        document["soap"] = {"currentInvoiceHandle": {"id": 1000 + number}}
        self.drafts[number] = document
        view = self._draft_view(document, request.base)
        return 201, view, {"Location": view["self"]}

    def _draft_view(self, document: dict[str, Any], base: str) -> dict[str, Any]:
        view = self._view("invoices/drafts", document, base)
        view["templates"] = {
            "bookingInstructions": f"{view['self']}/templates/booking-instructions",
            "self": f"{view['self']}/templates",
        }
        view["pdf"] = {"self": f"{view['self']}/pdf"}
        return view

    def _put_draft(self, request: "_Request", number: str) -> tuple:
        if int(number) not in self.drafts:
            raise Reply(404, _error(404, "Draft invoice not found.", f"No draft invoice {number}; it may have been booked or deleted."))
        document = self._document(request, "invoices.drafts.post", "draftInvoiceNumber", int(number))  # [ours] PUT validated like POST
        document["draftInvoiceNumber"] = int(number)
        document["soap"] = self.drafts[int(number)].get("soap")
        self.drafts[int(number)] = document
        return 200, self._draft_view(document, request.base), {}

    def _get_in(self, store: dict[int, dict[str, Any]], what: str) -> Callable:
        path = {id(self.drafts): "invoices/drafts", id(self.booked): "invoices/booked", id(self.orders): "orders/drafts"}[id(store)]

        def handler(request: _Request, number: str) -> tuple:
            document = store.get(int(number))
            if document is None:
                raise Reply(404, _error(404, f"The {what} was not found.", f"No {what} {number}."))
            if store is self.drafts:
                return 200, self._draft_view(document, request.base), {}
            return 200, self._view(path, document, request.base), {}

        return handler

    def _delete_draft(self, request: "_Request", number: str) -> tuple:
        if self.drafts.pop(int(number), None) is None:
            raise Reply(404, _error(404, "Draft invoice not found.", ""))
        return 200, {"message": "Deleted invoice.", "deletedCount": 1,
                     "deletedItems": [{"draftInvoiceNumber": int(number), "self": f"{request.base}/invoices/drafts/{number}"}]}, {}

    def _delete_drafts(self, request: "_Request") -> tuple:
        everything = [self._view("invoices/drafts", d, request.base, brief=True) for d in self.drafts.values()]
        doomed = self._filter("invoices/drafts", request.query["filter"], everything) if "filter" in request.query else everything
        for item in doomed:
            self.drafts.pop(item["draftInvoiceNumber"], None)
        return 200, {"message": f"Deleted {len(doomed)} invoices.", "deletedCount": len(doomed),
                     "deletedItems": [{"draftInvoiceNumber": d["draftInvoiceNumber"], "self": d["self"]} for d in doomed]}, {}

    def _book(self, request: "_Request", book_with: int | None = None) -> tuple:
        self._validate("invoices.booked.post", request.body)
        body = request.body
        tree: dict[str, Any] = {}
        number = self._reference_exists(tree, ["draftInvoice"], body.get("draftInvoice"), self.drafts, "draftInvoiceNumber", "draftInvoice", "invoices/drafts")
        wanted = book_with or body.get("bookWithNumber")
        if wanted is not None and wanted in self.booked:
            _annotate(tree, ["bookWithNumber"], {"errorCode": "FAKE_DUPLICATE", "message": "An invoice with this number is already booked.", "value": wanted})  # [ours]
        if tree:
            raise Reply(400, _validation(tree))
        invoice = self._booked_from_draft(number, wanted)
        view = self._view("invoices/booked", invoice, request.base)
        view["pdf"] = {"self": f"{view['self']}/pdf"}
        return 201, view, {"Location": view["self"]}

    def _booked_from_draft(self, number: int, wanted: int | None = None) -> dict[str, Any]:
        """Book draft `number`: it leaves the drafts and becomes a booked invoice, its
        references and all, under the next booked number (or `wanted`)."""
        draft = self.drafts.pop(number)
        booked_number = wanted or max([self._next["booked"] - 1, *self.booked], default=0) + 1
        self._next["booked"] = max(self._next["booked"], booked_number + 1)
        invoice = {k: v for k, v in draft.items() if k not in ("draftInvoiceNumber", "soap", "templates")}
        invoice["bookedInvoiceNumber"] = booked_number
        invoice["remainder"] = invoice["grossAmount"]
        invoice["remainderInBaseCurrency"] = invoice["grossAmountInBaseCurrency"]
        self.booked[booked_number] = invoice
        return invoice

    def _book_with_number(self, request: "_Request", number: str) -> tuple:
        given = (request.body or {}).get("bookWithNumber") if isinstance(request.body, dict) else None
        if given is not None and given != int(number):
            raise Reply(400, _validation({"bookWithNumber": {"errors": [{"errorCode": "FAKE_MISMATCH", "message": "bookWithNumber does not match the URL.", "value": given}]}}))
        return self._book(request, int(number))

    def _create_order(self, request: "_Request") -> tuple:
        document = self._document(request, "orders.drafts.post", "orderNumber", None)
        number = self._next["order"]
        self._next["order"] += 1
        document["orderNumber"] = number
        self.orders[number] = document
        view = self._view("orders/drafts", document, request.base)
        return 201, view, {"Location": view["self"]}

    def _put_order(self, request: "_Request", number: str) -> tuple:
        if int(number) not in self.orders:
            raise Reply(404, _error(404, "Order not found.", f"No order draft {number}."))
        document = self._document(request, "orders.drafts.post", "orderNumber", int(number))
        document["orderNumber"] = int(number)
        self.orders[int(number)] = document
        return 200, self._view("orders/drafts", document, request.base), {}

    def _delete_order(self, request: "_Request", number: str) -> tuple:
        if self.orders.pop(int(number), None) is None:
            raise Reply(404, _error(404, "Order not found.", ""))
        return 204, None, {}


class _Request:
    def __init__(self, method: str, path: str, query: dict[str, str], body: Any, base: str):
        self.method, self.path, self.query, self.body, self.base = method, path, query, body, base


# --- fault injection for FakeServer -------------------------------------------------------
def fault_once(method: str, path: str, kind: str = "reset_after", status: int = 503, headers: dict[str, str] | None = None, times: int = 1) -> Callable[[Recorded], Fault | None]:
    """A `faults=` callable: the first `times` requests to `method path` get the fault.

    kind: reset_before (never reached the app), reset_after (the app acted, the client
    hears nothing), hang, or status (answer `status` instead, e.g. 503 or 429).
    """
    left = [times]
    lock = threading.Lock()

    def faults(request: Recorded) -> Fault | None:
        if request.method != method or request.path.rstrip("/") != path.rstrip("/"):
            return None
        with lock:
            if left[0] <= 0:
                return None
            left[0] -= 1
        body = json.dumps({"message": "Injected fault.", "httpStatusCode": status}).encode()
        return Fault(kind=kind, status=status, body=body, headers=headers or {})

    return faults


# --- helpers ------------------------------------------------------------------------------
def dumps(value: Any) -> str:
    """JSON with Decimal as exact numbers (the fake answers like the real API: numbers, not strings)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def write_schema(name: str) -> dict[str, Any]:
    """The vendor's schema for a write, or our own description of it in a clone without one."""
    path = SCHEMA_DIR / f"{name}.schema.json"
    if not path.exists():
        path = OURS / f"{SCHEMAS[name]}.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _error(status: int, message: str, hint: str) -> dict[str, Any]:
    return {"message": message, "developerHint": hint, "logId": str(uuid.uuid4()), "httpStatusCode": status, "logTime": _now()}


def _validation(tree: dict[str, Any]) -> dict[str, Any]:
    body = _error(400, "Validation error.", "Inspect validation errors and correct your request.")
    body["errors"] = tree
    return body


def _annotate(tree: dict[str, Any], path: list[Any], error: dict[str, Any]) -> None:
    """Put `error` where `path` points, in e-conomic's mirror-the-request shape."""
    node = tree
    index = 0
    while index < len(path):
        key = path[index]
        if index + 1 < len(path) and isinstance(path[index + 1], int):
            members = node.setdefault(key, [])
            member = next((m for m in members if m["arrayIndex"] == path[index + 1]), None)
            if member is None:
                member = {"arrayIndex": path[index + 1]}
                members.append(member)
            node = member
            index += 2
            continue
        node = node.setdefault(key, {})
        index += 1
    node.setdefault("errors", []).append(error)


def _null_paths(value: Any, path: list[Any]) -> Iterable[list[Any]]:
    if value is None:
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _null_paths(child, [*path, key])
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _null_paths(child, [*path, index])


def _stored(body: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a write: the body without `self` links and false booleans (e-conomic omits those)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "self" and v is not False}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(copy.deepcopy(body))


def _link(view: Any, base: str) -> None:
    """Give nested references their self links, the way e-conomic returns them."""
    links = {"customerNumber": "customers", "layoutNumber": "layouts", "paymentTermsNumber": "payment-terms",
             "vatZoneNumber": "vat-zones", "productGroupNumber": "product-groups", "customerGroupNumber": "customer-groups",
             "unitNumber": "units"}
    if isinstance(view, list):
        for item in view:
            _link(item, base)
        return
    if not isinstance(view, dict):
        return
    for key, value in list(view.items()):
        if isinstance(value, dict):
            for id_key, collection in links.items():
                if id_key in value:
                    value.setdefault("self", f"{base}/{collection}/{value[id_key]}")
            if key == "product" and "productNumber" in value:
                value.setdefault("self", f"{base}/products/{encode_resource_id(value['productNumber'])}")
            _link(value, base)
        elif isinstance(value, list):
            _link(value, base)


def _tail_number(url: str) -> int:
    return int(url.rstrip("/").rsplit("/", 1)[-1].split("?")[0])


def _scale(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _now() -> str:
    return datetime.now().replace(microsecond=0).isoformat()
