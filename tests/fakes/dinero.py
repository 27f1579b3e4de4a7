"""A fake of Dinero's API (api.dinero.dk + its token endpoint), as a WSGI app.

Serve it with tests/fakes/server.py's FakeServer; `FakeDinero.serve()` does that. Facts from
../shared/vendor/dinero/README.md and openapi.json (the official OpenAPI document):
- the token endpoint (`POST /dineroapi/oauth/token`, Basic client id/secret, form grant
  `password` with the API key as username and password): a refused grant is 400
  `invalid_grant`; tokens expire (`expire_tokens()`), then the API answers 401;
- an organisation without Pro: 403 with code 90; another organisation's id: 403 code 41;
- every request body validated against the official spec's request schema for its path
  and method (JSON Schema 2020-12, `additionalProperties: false` everywhere). Where the
  vendor folder is absent, against our own small schema of the fields iexsync sends
  (`tests/fakes/dinero_fields.py`), which a test holds to the spec when it is present;
- contacts, products, invoices, credit notes, payments; own Guids honoured (a reused one:
  409 for documents, 400 `guidMustBeUnique` for contacts); numbering on booking;
- the Timestamp rule: every write to a document must carry its current TimeStamp, else
  400 with code 58; a payment changes the invoice's TimeStamp;
- lists with `queryFilter` (`<Field> eq|contains '<value>'`, `;` = AND, case-insensitive,
  each endpoint's own fields, 400 otherwise), `fields` (spelt as asked), `page`/`pageSize`
  (0-based, default 100, max 1000), deleted documents left out;
- an unknown invoice or credit-note Guid is 400 with code 63, an unknown contact 404;
- the rate limit: `rate_limit` requests (100) per `window` seconds (60) per client id, 429
  with `API calls quota exceeded!` and Retry-After;
- totals computed from the lines and each line account's VAT code (`vat_codes`):
  [ours] each line rounded half up to the cent, VAT per rate on the sum, rounded once.

Fault injection after a write: FakeServer's `faults=` (tests/fakes/economic.py's
`fault_once` works here too), e.g. reset the connection after Dinero acted.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator

from tests.fakes import dinero_fields
from tests.fakes.server import FakeServer
from tests.vendor import VENDOR

CLIENT_ID = "fake-dinero-client"
CLIENT_SECRET = "fake-dinero-client-secret"
API_KEY = "fake-dinero-api-key-0123456789"
ORGANIZATION_ID = "412785"
TOKEN_PATH = "/dineroapi/oauth/token"

VENDOR_DIR = VENDOR / "dinero"
SPEC_PATH = VENDOR_DIR / "openapi.json"
CENT = Decimal("0.01")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
DRAFT_NUMBER_IN_LISTS = 9223372036854775807  # [X] a draft's Number in a list capture

# [ours] A standard Danish chart of accounts, as far as the tests need it.
ACCOUNTS = {
    1000: ("Salg af varer/ydelser m/moms", "U25"),
    1010: ("Salg af varer/ydelser u/moms", "none"),
    1020: ("Salg af varer til EU (omvendt betalingspligt)", "EUV"),
    1030: ("Salg af varer til lande uden for EU", "UEXP"),
    1040: ("Salg til EU-forbrugere (OSS)", "OSS"),
    1100: ("Fragt m/moms", "U25"),
    1200: ("Gebyrer m/moms", "U25"),
}
VAT_CODES = {  # code → (name, rate as a fraction, the way /vatTypes shows it)
    "U25": ("Salgsmoms 25%", Decimal("0.25")),
    "none": ("Ingen moms", Decimal("0")),
    "EUV": ("EU-salg af varer", Decimal("0")),
    "UEXP": ("Salg uden for EU", Decimal("0")),
    "OSS": ("One-Stop-Shop (the rate the buyer's country charges)", None),
}
DEPOSIT_ACCOUNTS = {55000: "Bank", 55010: "Stripe", 55020: "MobilePay"}

FILTERABLE = {
    "contacts": ("ExternalReference", "Name", "Email", "VatNumber", "EanNumber", "IsPerson", "Phone"),
    "products": ("Name", "ProductNumber", "ExternalReference"),
    "invoices": ("ExternalReference", "ContactGuid", "Description"),
    "creditnotes": ("ExternalReference", "ContactGuid", "Description"),
}
DEFAULT_FIELDS = {
    "contacts": "name,contactGuid",
    "products": "Name,ProductGuid",
    "invoices": "Guid,ContactName,Date,Description",
    "creditnotes": "Guid,ContactName,Date,Description,Type",
}
_CONDITION = re.compile(r"^\s*(?P<field>[A-Za-z]+)\s+(?P<op>eq|contains)\s+'(?P<value>[^']*)'\s*$")


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def dinero_error(status: int, code: int, message: str, fields: dict[str, str] | None = None) -> Reply:
    """Dinero's error body: code, message, validationErrors, languageSpecificMessages, errorMessageList."""
    errors = fields or {"message": message}
    return Reply(status, {
        "code": code, "message": message, "validationErrors": errors,
        "languageSpecificMessages": [{"property": k, "message": v} for k, v in errors.items()],
        "errorMessageList": [{"Code": k, "Message": v} for k, v in errors.items()],
    })


class FakeDinero:
    def __init__(self, *, organization_id: str = ORGANIZATION_ID, client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET, api_key: str = API_KEY, pro: bool = True,
                 rate_limit: int | None = 100, window: float = 60.0, token_lifetime: int = 3600,
                 oss_rate: Decimal = Decimal("0.19")):
        self.organization_id = organization_id
        self.client_id, self.client_secret, self.api_key = client_id, client_secret, api_key
        self.pro = pro
        self.rate_limit, self.window = rate_limit, window
        self.token_lifetime = token_lifetime
        self.oss_rate = oss_rate  # [ours] the fake's OSS account charges one country's rate
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.bodies: list[tuple[str, Any]] = []
        self.tokens: dict[str, float] = {}  # token → expiry (time.monotonic)
        self.tokens_issued = 0
        self.rejected_429 = 0
        self.accepted_times: list[float] = []  # monotonic time of every API request let through
        self._window: list[float] = []
        self._stamp = 0x20A5E00
        self.contacts: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.creditnotes: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, list[dict[str, Any]]] = {}  # invoice guid → payments
        self._numbers = {"invoice": 0, "creditnote": 0}
        self._routes = self._route_table()

    # --- test helpers -------------------------------------------------------------------
    def serve(self, **kwargs: Any) -> FakeServer:
        return FakeServer(self, **kwargs)

    def count(self, route: str) -> int:
        with self.lock:
            return self.calls[route]

    def received(self, route: str) -> list[Any]:
        with self.lock:
            return [copy.deepcopy(body) for name, body in self.bodies if name == route]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def add_contact(self, **fields: Any) -> dict[str, Any]:
        with self.lock:
            guid = fields.pop("ContactGuid", None) or str(uuid.uuid4())
            contact = {"ContactGuid": guid, "Name": "Contact", "CountryKey": "DK", "IsPerson": True, "IsMember": False,
                       "UseCvr": False, "Email": None, "VatNumber": None, "ExternalReference": None, "DeletedAt": None,
                       **fields}
            self.contacts[guid] = contact
            return contact

    def documents_with_reference(self, reference: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(kind, copy.deepcopy(doc)) for kind, store in (("invoice", self.invoices), ("creditnote", self.creditnotes))
                    for doc in store.values() if doc.get("ExternalReference") == reference and not doc.get("DeletedAt")]

    def bump(self, guid: str) -> None:
        """Someone changed the document in Dinero: its TimeStamp moves on."""
        with self.lock:
            store = self.invoices if guid in self.invoices else self.creditnotes
            store[guid]["TimeStamp"] = self._next_stamp()

    # --- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = "/" + environ.get("PATH_INFO", "").strip("/")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        with self.lock:
            try:
                status, body, headers = self._handle(environ, method, path, query, raw)
            except Reply as reply:
                status, body, headers = reply.status, reply.body, reply.headers
        if isinstance(body, bytes):
            payload, kind = body, "text/html; charset=utf-8"
        else:
            payload, kind = (b"" if body is None else dumps(body).encode()), "application/json; charset=utf-8"
        start_response(f"{status} {_REASONS.get(status, 'Status')}",
                       [("Content-Type", kind), ("Content-Length", str(len(payload))), *headers.items()])
        return [payload]

    def _handle(self, environ: dict[str, Any], method: str, path: str, query: dict[str, str], raw: bytes) -> tuple:
        if path == TOKEN_PATH and method == "POST":
            self.calls["POST token"] += 1
            return self._token(environ, raw)
        for route_method, pattern, name, spec_path, handler in self._routes:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                break
        else:
            raise Reply(404, b"<html><body><h1>404 - File or directory not found.</h1></body></html>")  # [3P]
        self.calls[f"{method} {name}"] += 1
        self._throttle()
        self._authorize(environ, found.group("org"))
        body = None
        if method in ("POST", "PUT") or (method == "DELETE" and raw):
            body = self._read_json(raw, method, name)
            self._validate(spec_path, method.lower(), body)
            self.bodies.append((f"{method} {name}", copy.deepcopy(body)))
        params = {k: v for k, v in found.groupdict().items() if k != "org"}
        return handler(query=query, body=body, **params)

    def _token(self, environ: dict[str, Any], raw: bytes) -> tuple:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if environ.get("HTTP_AUTHORIZATION") != f"Basic {expected}":
            return 400, {"error": "invalid_client"}, {}
        form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "password" or form.get("username") != self.api_key or form.get("password") != self.api_key:
            return 400, {"error": "invalid_grant", "error_description": "The user name or password is incorrect."}, {}
        token = uuid.uuid4().hex + uuid.uuid4().hex
        self.tokens[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}, {}

    def _authorize(self, environ: dict[str, Any], org: str) -> None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= time.monotonic():
            raise Reply(401, {"message": "Authorization has been denied for this request."})
        if org != self.organization_id:
            raise dinero_error(403, 41, "You do not have access to this organization.")
        if not self.pro:
            raise dinero_error(403, 90, "The organization does not have a Pro subscription, required for API access.")

    def _throttle(self) -> None:
        now = time.monotonic()
        if self.rate_limit:
            self._window = [t for t in self._window if now - t < self.window]
            if len(self._window) >= self.rate_limit:
                self.rejected_429 += 1
                wait = self.window - (now - self._window[0])
                raise Reply(429, b"API calls quota exceeded! maximum admitted %d per %ss." % (self.rate_limit, str(self.window).encode()),
                            {"Retry-After": str(max(1, math.ceil(wait)))})
            self._window.append(now)
        self.accepted_times.append(now)

    @staticmethod
    def _read_json(raw: bytes, method: str, name: str) -> Any:
        try:
            return json.loads(raw or b"null", parse_float=Decimal)
        except ValueError:
            raise dinero_error(400, 42, f"The request body of {method} {name} is not valid JSON.") from None

    def _validate(self, spec_path: str, method: str, body: Any) -> None:
        validator = request_validator(spec_path, method)
        problems = {
            (".".join(_field_path(error.absolute_path)) or "body"): error.message
            for error in validator.iter_errors(body)
        }
        if problems:
            raise dinero_error(400, 42, "Validation failed.", problems)

    # --- routes -------------------------------------------------------------------------
    def _route_table(self) -> list[tuple[str, re.Pattern[str], str, str, Callable]]:
        g = r"(?P<guid>[0-9a-fA-F-]{36})"
        table = [
            ("GET", "v1", "accounts/entry", self._entry_accounts),
            ("GET", "v1", "accounts/deposit", self._deposit_accounts),
            ("GET", "v1", "vatTypes", self._vat_types),
            ("GET", "v1", "contacts", self._lister("contacts", self.contacts)),
            ("POST", "v1", "contacts", self._create_contact),
            ("GET", "v1", f"contacts/{g}", self._get_contact),
            ("PUT", "v2", f"contacts/{g}", self._put_contact),
            ("GET", "v1", "products", self._lister("products", self.products)),
            ("POST", "v1", "products", self._create_product),
            ("GET", "v1", f"products/{g}", self._get_product),
            ("GET", "v1", "invoices", self._lister("invoices", self.invoices)),
            ("POST", "v1", "invoices", self._creator("invoice", self.invoices)),
            ("GET", "v1", f"invoices/{g}", self._getter("invoice", self.invoices)),
            ("DELETE", "v1", f"invoices/{g}", self._deleter("invoice", self.invoices)),
            ("PUT", "v1.2", f"invoices/{g}", self._updater("invoice", self.invoices)),
            ("POST", "v1", f"invoices/{g}/book", self._booker("invoice", self.invoices)),
            ("POST", "v1", f"invoices/{g}/payments", self._pay),
            ("GET", "v2", f"invoices/{g}/payments", self._payments),
            ("GET", "v1", "sales/creditnotes", self._lister("creditnotes", self.creditnotes)),
            ("POST", "v1", "sales/creditnotes", self._creator("creditnote", self.creditnotes)),
            ("GET", "v1", f"sales/creditnotes/{g}", self._getter("creditnote", self.creditnotes)),
            ("DELETE", "v1", f"sales/creditnotes/{g}", self._deleter("creditnote", self.creditnotes)),
            ("PUT", "v1.2", f"sales/creditnotes/{g}", self._updater("creditnote", self.creditnotes)),
            ("POST", "v1", f"sales/creditnotes/{g}/book", self._booker("creditnote", self.creditnotes)),
        ]
        routes = []
        for method, version, tail, handler in table:
            name = "/" + tail.replace(g, "{guid}")
            spec_path = f"/{version}/{{organizationId}}{name}"
            pattern = re.compile(rf"/{re.escape(version)}/(?P<org>[^/]+)/{tail}")
            routes.append((method, pattern, name if version == "v1" else f"/{version}{name}", spec_path, handler))
        return routes

    # --- settings -----------------------------------------------------------------------
    def _entry_accounts(self, query: dict[str, str], body: Any) -> tuple:
        items = [{"AccountNumber": n, "Name": name, "VatCode": code, "Category": "Sales", "IsHidden": False,
                  "IsDefaultSalesAccount": n == 1000} for n, (name, code) in ACCOUNTS.items()]
        return 200, [_pick(i, query.get("fields")) for i in items], {}

    def _deposit_accounts(self, query: dict[str, str], body: Any) -> tuple:
        items = [{"AccountNumber": n, "Name": name, "IsDefault": n == 55000, "IsHidden": False} for n, name in DEPOSIT_ACCOUNTS.items()]
        return 200, [_pick(i, query.get("fields")) for i in items], {}

    def _vat_types(self, query: dict[str, str], body: Any) -> tuple:
        return 200, [{"VatCode": code, "Name": name, "VatRate": rate if rate is not None else self.oss_rate}
                     for code, (name, rate) in VAT_CODES.items()], {}

    def account_rate(self, number: int) -> Decimal | None:
        account = ACCOUNTS.get(number)
        if account is None:
            return None
        rate = VAT_CODES[account[1]][1]
        return self.oss_rate if rate is None else rate

    # --- lists --------------------------------------------------------------------------
    def _lister(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: Any) -> tuple:
            deleted = query.get("deletedOnly", "false").lower() == "true"
            items = [self._list_view(kind, item) for item in store.values() if bool(item.get("DeletedAt")) == deleted]
            total = len(items)
            if query.get("queryFilter"):
                items = [item for item in items if _matches(kind, query["queryFilter"], item)]
            try:
                page = int(query.get("page", 0))
                size = int(query.get("pageSize", DEFAULT_PAGE_SIZE))
            except ValueError:
                raise dinero_error(400, 42, "page and pageSize must be whole numbers.") from None
            if page < 0 or not 1 <= size <= MAX_PAGE_SIZE:
                raise dinero_error(400, 43, f"pageSize must be between 1 and {MAX_PAGE_SIZE}; page at least 0.")
            chosen = items[page * size:(page + 1) * size]
            fields = query.get("fields") or DEFAULT_FIELDS[kind]
            return 200, {
                "Collection": [_pick(item, fields) for item in chosen],
                "Pagination": {"MaxPageSizeAllowed": MAX_PAGE_SIZE, "PageSize": size, "Result": len(chosen),
                               "ResultWithoutFilter": total, "Page": page},
            }, {}
        return handler

    def _list_view(self, kind: str, item: dict[str, Any]) -> dict[str, Any]:
        if kind in ("invoices", "creditnotes"):
            view = self._document_view(item)
            if view["Status"] == "Draft":
                view["Number"] = DRAFT_NUMBER_IN_LISTS
            view["TotalInclVatInDkk"], view["TotalExclVatInDkk"] = view["TotalInclVat"], view["TotalExclVat"]
            view["Type"] = "CreditNote" if kind == "creditnotes" else "Invoice"
            return view
        return copy.deepcopy(item)

    # --- contacts and products ----------------------------------------------------------
    def _create_contact(self, query: dict[str, str], body: dict[str, Any]) -> tuple:
        guid = body.get("ContactGuid") or str(uuid.uuid4())
        if guid in self.contacts:
            raise dinero_error(400, 42, "Validation failed.", {"ContactGuid": "guidMustBeUnique"})  # [3P]
        self.contacts[guid] = {**{k: v for k, v in body.items()}, "ContactGuid": guid, "DeletedAt": None}
        return 200, {"ContactGuid": guid}, {}

    def _get_contact(self, query: dict[str, str], body: Any, guid: str) -> tuple:
        contact = self.contacts.get(guid)
        if contact is None or contact.get("DeletedAt"):
            raise dinero_error(404, 40, "Contact not found.")
        return 200, copy.deepcopy(contact), {}

    def _put_contact(self, query: dict[str, str], body: dict[str, Any], guid: str) -> tuple:
        if guid not in self.contacts:
            raise dinero_error(404, 40, "Contact not found.")
        self.contacts[guid] = {**body, "ContactGuid": guid, "DeletedAt": None}
        return 200, None, {}

    def _create_product(self, query: dict[str, str], body: dict[str, Any]) -> tuple:
        self._check_account(body.get("AccountNumber"), "AccountNumber")
        guid = str(uuid.uuid4())
        self.products[guid] = {**body, "ProductGuid": guid, "DeletedAt": None}
        return 200, {"ProductGuid": guid}, {}

    def _get_product(self, query: dict[str, str], body: Any, guid: str) -> tuple:
        product = self.products.get(guid)
        if product is None:
            raise dinero_error(404, 40, "Product not found.")
        return 200, copy.deepcopy(product), {}

    # --- invoices and credit notes ------------------------------------------------------
    def _next_stamp(self) -> str:
        self._stamp += 1
        return f"{self._stamp:016X}"

    def _check_lines(self, body: dict[str, Any]) -> None:
        problems = {}
        lines = body.get("ProductLines") or []
        if not lines:
            problems["ProductLines"] = "At least one line is required."
        for index, line in enumerate(lines):
            if line.get("AccountNumber") not in ACCOUNTS:
                problems[f"ProductLines[{index}].AccountNumber"] = f"Account {line.get('AccountNumber')} does not exist or is not a sales account."
            if not line.get("ProductGuid") and not line.get("Description"):
                problems[f"ProductLines[{index}].Description"] = "Description is required when there is no ProductGuid."
            if line.get("ProductGuid") and line["ProductGuid"] not in self.products:
                problems[f"ProductLines[{index}].ProductGuid"] = "Product does not exist."
            if line.get("LineType", "Product") == "Product" and not line.get("Unit"):
                problems[f"ProductLines[{index}].Unit"] = "Unit is required for a product line."
            discount = line.get("Discount", 0)
            if not Decimal(0) <= Decimal(str(discount)) <= Decimal(100):
                problems[f"ProductLines[{index}].Discount"] = "Discount must be between 0 and 100."
        if body.get("ContactGuid") and body["ContactGuid"] not in self.contacts:
            problems["ContactGuid"] = "Contact does not exist."
        if problems:
            raise dinero_error(400, 42, "Validation failed.", problems)

    def _check_account(self, number: Any, field: str) -> None:
        if number not in ACCOUNTS:
            raise dinero_error(400, 42, "Validation failed.", {field: f"Account {number} does not exist."})

    def _creator(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: dict[str, Any]) -> tuple:
            guid = body.get("Guid") or str(uuid.uuid4())
            if guid in self.invoices or guid in self.creditnotes:
                raise dinero_error(409, 72, "Duplicated entity")  # [3P]
            self._check_lines(body)
            if kind == "creditnote" and body.get("CreditNoteFor"):
                original = self.invoices.get(body["CreditNoteFor"])
                if original is None or original.get("DeletedAt"):
                    raise dinero_error(400, 42, "Validation failed.", {"CreditNoteFor": "The invoice does not exist."})
            document = {**body, "Guid": guid, "Status": "Draft", "Number": None, "TimeStamp": self._next_stamp(),
                        "DeletedAt": None, "CreatedAt": _now(), "UpdatedAt": _now()}
            store[guid] = document
            return 200, {"Guid": guid, "TimeStamp": document["TimeStamp"]}, {}
        return handler

    def _document(self, kind: str, store: dict[str, dict[str, Any]], guid: str) -> dict[str, Any]:
        document = store.get(guid)
        if document is None:
            raise dinero_error(400, 63, "No results found.")  # [3P] 400, not 404
        if document.get("DeletedAt"):
            raise dinero_error(400, 65, "Item is deleted", {"message": f"Invalid {kind.title()}Guid, the {kind} is deleted."})
        return document

    def _getter(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: Any, guid: str) -> tuple:
            document = self._document(kind, store, guid)
            view = self._document_view(document)
            if view["Status"] == "Draft":
                view["Number"] = self._numbers[kind] + 1  # [X] a draft read alone shows the next free number
            return 200, view, {}
        return handler

    def _stamp_matches(self, document: dict[str, Any], given: Any) -> None:
        if given != document["TimeStamp"]:
            raise dinero_error(400, 58, "Timestamp outdated: the entity was changed since you read it.",
                               {"Timestamp": "The timestamp is outdated. Fetch the entity again."})

    def _updater(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: dict[str, Any], guid: str) -> tuple:
            document = self._document(kind, store, guid)
            self._stamp_matches(document, body.get("Timestamp"))
            if document["Status"] != "Draft":
                raise dinero_error(400, 42, "Validation failed.", {"message": f"A booked {kind} cannot be changed."})
            self._check_lines(body)
            kept = {k: document[k] for k in ("Guid", "Status", "Number", "DeletedAt", "CreatedAt", "CreditNoteFor") if k in document}
            store[guid] = {**{k: v for k, v in body.items() if k != "Timestamp"}, **kept,
                           "TimeStamp": self._next_stamp(), "UpdatedAt": _now()}
            return 200, {"Guid": guid, "TimeStamp": store[guid]["TimeStamp"]}, {}
        return handler

    def _deleter(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: Any, guid: str) -> tuple:  # noqa: ARG001
            document = self._document(kind, store, guid)
            if isinstance(body, dict) and body.get("Timestamp") is not None:
                self._stamp_matches(document, body["Timestamp"])  # optional here, checked when given
            if document["Status"] != "Draft":
                raise dinero_error(400, 42, "Validation failed.", {"message": "A booked invoice is credited, not deleted."})
            document["DeletedAt"] = _now()
            return 200, None, {}
        return handler

    def _booker(self, kind: str, store: dict[str, dict[str, Any]]) -> Callable:
        def handler(query: dict[str, str], body: dict[str, Any], guid: str) -> tuple:
            document = self._document(kind, store, guid)
            self._stamp_matches(document, body.get("Timestamp"))
            if document["Status"] != "Draft":
                raise dinero_error(400, 42, "Validation failed.", {"message": f"The {kind} is already booked."})
            if not document.get("ContactGuid"):
                raise dinero_error(400, 42, "Validation failed.", {"ContactGuid": "A contact is required to book."})
            wanted = body.get("Number")
            used = {d["Number"] for d in store.values() if d["Status"] != "Draft"}
            if wanted is not None and wanted in used:
                raise dinero_error(400, 42, "Validation failed.", {"Number": "The number is already used."})
            number = wanted or self._numbers[kind] + 1
            self._numbers[kind] = max(self._numbers[kind], number)
            document.update(Status="Booked", Number=number, TimeStamp=self._next_stamp(), UpdatedAt=_now())
            return 200, self._document_view(document), {}
        return handler

    def _pay(self, query: dict[str, str], body: dict[str, Any], guid: str) -> tuple:
        document = self._document("invoice", self.invoices, guid)
        self._stamp_matches(document, body.get("Timestamp"))
        if document["Status"] == "Draft":
            raise dinero_error(400, 42, "Validation failed.", {"message": "Only a booked invoice can be paid."})
        if body.get("DepositAccountNumber") not in DEPOSIT_ACCOUNTS:
            raise dinero_error(400, 42, "Validation failed.", {"DepositAccountNumber": "Deposit account does not exist."})
        if Decimal(str(body.get("Amount", 0))) == 0:
            raise dinero_error(400, 42, "Validation failed.", {"Amount": "Amount must be different from 0."})
        currency, rate = (document.get("Currency") or "DKK").upper(), Decimal(100)
        if currency != "DKK":  # the docs: AmountInForeignCurrency "is required" for a foreign-currency voucher
            foreign = body.get("AmountInForeignCurrency")
            if foreign in (None, 0):
                raise dinero_error(400, 42, "Validation failed.",
                                   {"AmountInForeignCurrency": "Required for a voucher in a foreign currency."})
            rate = Decimal(str(body["Amount"])) * 100 / Decimal(str(foreign))  # [ours] the rate Amount/foreign implies
        payment = {"Guid": str(uuid.uuid4()), "DepositAccountNumber": body["DepositAccountNumber"], "Currency": currency,
                   "ExchangeRate": rate, "PaymentClass": "Invoice", "RelatedVoucherId": None,
                   "ExternalReference": body.get("ExternalReference"), "PaymentDate": body.get("PaymentDate"),
                   "Description": body["Description"], "Amount": Decimal(str(body["Amount"]))}
        self.payments.setdefault(guid, []).append(payment)
        document["TimeStamp"] = self._next_stamp()
        return 200, {"Guid": payment["Guid"], "TimeStamp": document["TimeStamp"], "RelatedVoucherGuid": None}, {}

    def _payments(self, query: dict[str, str], body: Any, guid: str) -> tuple:
        document = self._document("invoice", self.invoices, guid)
        payments = self.payments.get(guid, [])
        paid = sum((p["Amount"] for p in payments), Decimal("0.00"))
        total = self._document_view(document)["TotalInclVat"]
        return 200, {"Payments": copy.deepcopy(payments), "PaidAmount": paid, "RemainingAmount": total - paid,
                     "InvoiceTotalIncludingReminderExpenses": total, "RemainderAsFeeAvailable": False}, {}

    def _document_view(self, document: dict[str, Any]) -> dict[str, Any]:
        """The document as Dinero shows it: totals computed from the lines and their accounts."""
        lines, by_rate, net = [], {}, Decimal("0.00")
        for line in document.get("ProductLines") or []:
            quantity = Decimal(str(line["Quantity"]))
            price = Decimal(str(line["BaseAmountValue"]))
            discount = Decimal(str(line.get("Discount", 0)))
            total = money(quantity * price * (1 - discount / 100))
            rate = self.account_rate(line["AccountNumber"]) or Decimal(0)
            net += total
            by_rate[rate] = by_rate.get(rate, Decimal("0.00")) + total
            lines.append({**line, "AccountName": ACCOUNTS.get(line["AccountNumber"], ("?",))[0],
                          "TotalAmount": total, "TotalAmountInclVat": money(total * (1 + rate))})
        vat = sum((money(base * rate) for rate, base in by_rate.items()), Decimal("0.00"))
        vatable = sum((base for rate, base in by_rate.items() if rate), Decimal("0.00"))
        view = {k: copy.deepcopy(v) for k, v in document.items() if k not in ("ProductLines", "Timestamp")}
        view.update(ProductLines=lines, TotalExclVat=net, TotalVat=vat, TotalInclVat=net + vat,
                    TotalVatableAmount=vatable, TotalNonVatableAmount=net - vatable,
                    IsMobilePayInvoiceEnabled=False, IsPensoPayEnabled=False, IsSentToDebtCollection=False,
                    ShowLinesInclVat=bool(document.get("ShowLinesInclVat")),
                    PaymentConditionNumberOfDays=document.get("PaymentConditionNumberOfDays") or 0)
        return view


# --- request schemas ------------------------------------------------------------------------
def vendor_spec() -> dict[str, Any] | None:
    return _spec()


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any] | None:
    if not SPEC_PATH.exists():
        return None
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=64)
def request_validator(spec_path: str, method: str) -> Draft202012Validator:
    """The official spec's request schema for this operation, or (without the vendor folder) ours."""
    spec = _spec()
    if spec is None:
        schema = dinero_fields.request_schema(spec_path, method)
        return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    operation = spec["paths"][spec_path][method]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]
    root = {"$ref": ref["$ref"], "components": spec["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- helpers --------------------------------------------------------------------------------
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error"}


def _matches(kind: str, text: str, item: dict[str, Any]) -> bool:
    """Dinero's queryFilter: `<Field> eq|contains '<value>'`, `;` between conditions (AND)."""
    for part in text.split(";"):
        condition = _CONDITION.match(part)
        if condition is None:
            raise dinero_error(400, 42, f"The queryFilter {text!r} is not valid: use <Field> eq '<value>'.")
        field = next((f for f in FILTERABLE[kind] if f.lower() == condition["field"].lower()), None)
        if field is None:
            raise dinero_error(400, 42, f"Filtering on {condition['field']!r} is not supported; use one of {', '.join(FILTERABLE[kind])}.")
        value = item.get(field)
        have = "" if value is None else str(value).casefold()
        want = condition["value"].casefold()
        if (have != want) if condition["op"] == "eq" else (want not in have):
            return False
    return True


def _pick(item: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """Only the asked fields, each spelt as asked (Dinero's quirk)."""
    if not fields:
        return copy.deepcopy(item)
    lower = {k.lower(): k for k in item}
    picked = {}
    for name in (f.strip() for f in fields.split(",")):
        if name and name.lower() in lower:
            picked[name] = copy.deepcopy(item[lower[name.lower()]])
    return picked


def _field_path(path: Any) -> list[str]:
    parts: list[str] = []
    for part in path:
        if isinstance(part, int) and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return parts


def dumps(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
