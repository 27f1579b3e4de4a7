"""A fake WooCommerce REST API v3 (`/wp-json/wc/v3`), faithful where iexsync depends on it.

Served by `FakeServer` on loopback. What it does the way WooCommerce/WordPress do
(woocommerce-rest-api-docs wp-api-v3; WordPress core's REST server for the WP parts):
- auth: HTTP Basic with consumer key/secret, or both in the query string, over HTTPS only
  (`sees_https`, True by default: the loopback fakes stand for a shop behind TLS); OAuth 1.0a
  (HMAC-SHA1/256, signature checked as WC_REST_Authentication builds it, timestamps within
  15 minutes, each nonce once) over either; no credentials → 401 woocommerce_rest_cannot_view,
  a wrong key or secret or signature → 401 woocommerce_rest_authentication_error, a key without
  read (write) permission → 401, a key whose user may not see orders → 403;
- GET /orders: status (any = all but trash; a list), modified_after/before and
  after/before (GMT with dates_are_gmt, else the shop's local time; exclusive), include,
  exclude, orderby date|id|include|title|slug, order asc|desc (default desc), page,
  per_page (default 10, above the cap → 400 rest_invalid_param), offset; X-WP-Total,
  X-WP-TotalPages and a Link header that, like WordPress's, repeats the query (credentials too);
- GET /orders/<id>, GET /orders/<id>/refunds, GET /reports/orders/totals (every status the
  shop knows, custom ones too, with counts), POST/GET/DELETE /webhooks;
- `rest_no_route` for any other path under /wp-json, a theme's HTML 404 outside it, and
  with `pretty_permalinks = False` everywhere (WooCommerce needs pretty permalinks);
- JSON as wp_json_encode writes it: "\\/" for "/", non-ASCII as \\uXXXX;
- a `Date` header on every answer, from the shop's own clock (`now`), as the web server
  in front of PHP sends it; `supports_modified_after = False` is a WooCommerce before 5.8,
  which ignores modified_after and modified_before alike (both came in 5.8).
Hosts and plugins, not WooCommerce, add: `rate_limit` (429 + Retry-After), `html_mode`
("maintenance": WordPress's 503 page with Retry-After; "challenge": a 200 HTML page from a
security plugin or CDN; "blocked": a 403 HTML page from a firewall plugin), and
`sends_totals = False` (a proxy that strips X-WP-Total and X-WP-TotalPages).

Test controls: add_order, load_vendor_examples, load_orders_dir, generate(n), modify,
trash, delete, add_refund, add_status, `on_list` hooks (run before each GET /orders is
answered, to change the shop mid-paging), `deliver`/`ping` for webhooks.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode

from tests.fakes import woocommerce_examples as examples
from tests.fakes.server import FakeServer

if TYPE_CHECKING:
    from iexsync.shops.woocommerce import WooCommerceShop

API = "/wp-json/wc/v3"
REPO = Path(__file__).resolve().parents[2]
TEMPLATES = examples.ORDER_IDS  # generate() cycles through these; the last carries the refunds
CORE_STATUSES = {  # wc_get_order_statuses(), in WooCommerce's order
    "pending": "Pending payment", "processing": "Processing", "on-hold": "On hold", "completed": "Completed",
    "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed",
}
WEBHOOK_TOPICS = re.compile(r"^((coupon|customer|order|product)\.(created|updated|deleted|restored)|action\.\w+)$")
ORDERBY = ("date", "id", "include", "title", "slug")
CENT = Decimal("0.01")
MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Maintenance</title></head>"
    "<body><h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1></body></html>"
)
CHALLENGE_PAGE = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head><body></body></html>"
BLOCKED_PAGE = (
    "<!DOCTYPE html><html><head><title>Your access to this site has been limited</title></head>"
    "<body><h1>Your access to this site has been limited by the site owner</h1></body></html>"
)


@dataclass
class _Entry:
    """One stored order: the fields queries filter on, and its body (or how to build it)."""

    id: int
    status: str
    created_gmt: datetime
    modified_gmt: datetime
    raw: dict[str, Any] | None = None
    recipe: tuple[int, int] | None = None  # (template, multiplier): built on demand, keeps 10,000 orders small


class _Reply(Exception):
    """Answer this request now (an error the route found)."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        self.status, self.payload, self.headers = status, payload, headers or {}


def _rfc3986(text: str) -> str:
    """PHP's rawurlencode: everything but A-Z a-z 0-9 - . _ ~ percent-encoded."""
    return quote(text, safe="~")


def wp_error(status: int, code: str, message: str, **data: Any) -> _Reply:
    return _Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def wp_json(payload: Any) -> bytes:
    """What wp_json_encode writes: ASCII only, with escaped slashes."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


class FakeWooCommerce:
    def __init__(
        self,
        consumer_key: str = "ck_" + "a1" * 20,
        consumer_secret: str = "cs_" + "b2" * 20,
        *,
        key_permissions: str = "read",  # read | write | read_write
        utc_offset: timedelta = timedelta(hours=-3),  # the vendor examples' shop runs at UTC-3
        per_page_cap: int = 100,
        now: Callable[[], datetime] | None = None,
    ):
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.key_permissions = key_permissions
        self.user_can_view_orders = True
        self.drop_authorization_header = False  # a CGI setup that loses the header
        # The fakes serve plain http on loopback but stand for a shop behind TLS, whose keys
        # count over "https"; False: a shop reached over plain http, which takes OAuth 1.0a only.
        self.sees_https = True
        self.oauth_nonces: dict[int, str] = {}
        self.oauth_requests = 0  # requests signed in by an OAuth signature
        self.utc_offset = utc_offset
        self.per_page_cap = per_page_cap
        self.pretty_permalinks = True
        self.woocommerce_active = True  # False: the wc/v3 routes are gone, as with the plugin deactivated
        self.supports_modified_after = True  # False: an older WooCommerce (< 5.8), which ignores modified_after/_before
        self.sends_totals = True  # False: a proxy strips X-WP-Total and X-WP-TotalPages
        self.honours_orderby = True  # False: a plugin forces its own order (newest first)
        self.honours_offset = True  # False: a cache or plugin drops the offset parameter
        self.html_mode: str | None = None  # None | "maintenance" | "challenge" | "blocked"
        self.maintenance_retry_after = 600  # what WordPress's maintenance page sends
        self.rate_limit: tuple[int, float, int] | None = None  # (requests, per seconds, Retry-After)
        self.ping_on_create = False
        self.site_url = "https://example.com"
        self.statuses = dict(CORE_STATUSES)
        self.on_list: list[Callable[[FakeWooCommerce, dict[str, Any]], None]] = []
        self.orders: dict[int, _Entry] = {}
        self.refunds: dict[int, list[dict[str, Any]]] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self._now = now or (lambda: datetime.now(timezone.utc))
        self._last_tick: datetime | None = None
        self._window: tuple[float, int] = (0.0, 0)
        self._next_webhook_id = 142
        self._templates: list[dict[str, Any]] | None = None
        self._refund_templates: list[dict[str, Any]] | None = None
        self._lock = threading.RLock()

    # --- serving ------------------------------------------------------------------------
    def serve(self, **kwargs: Any) -> FakeServer:
        """A FakeServer for this shop (not started: use it as a context manager)."""
        server = FakeServer(self.app, **kwargs)
        self.site_url = server.url
        return server

    def shop_config(self, server: FakeServer, **overrides: Any) -> dict[str, Any]:
        """A `shop:` config section pointing at this fake."""
        return {"platform": "woocommerce", "url": server.url, "consumer_key": self.consumer_key,
                "consumer_secret": self.consumer_secret, **overrides}

    def app(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        try:
            self._host_rules()
            if not path.startswith("/wp-json") or not self.pretty_permalinks:
                return _html(start_response, 404, "<!DOCTYPE html><html><head><title>Page not found</title></head>"
                                                  "<body><h1>Oops! That page can&rsquo;t be found.</h1></body></html>")
            route = path[len(API):] if path.startswith(API + "/") else None
            # Keys are checked before routing (a wrong key is a 401 anywhere); missing
            # credentials only fail the route's own permission check.
            signed_in = self._authenticate(environ, dict(query), method)
            handler, args = self._route(method, route if self.woocommerce_active else None)
            if not signed_in or not self.user_can_view_orders:
                cannot = "Sorry, you cannot list resources." if not args else "Sorry, you cannot view this resource."
                raise wp_error(401 if not signed_in else 403, "woocommerce_rest_cannot_view", cannot)
            with self._lock:
                status, payload, headers = handler(environ, query, *args)
        except _Reply as reply:
            status, payload, headers = reply.status, reply.payload, reply.headers
        headers = {"Date": format_datetime(self._now().astimezone(timezone.utc), usegmt=True), **headers}
        if isinstance(payload, _HTML):
            return _html(start_response, status, payload.text, headers)
        body = wp_json(payload)
        start_response(
            f"{status} {_REASONS.get(status, 'Status')}",
            [("Content-Type", "application/json; charset=UTF-8"), ("Content-Length", str(len(body))), *headers.items()],
        )
        return [body]

    def _host_rules(self) -> None:
        """What hosts and plugins put in front of WordPress."""
        if self.rate_limit:
            limit, per, retry_after = self.rate_limit
            with self._lock:
                start, count = self._window
                now = time.monotonic()
                if now - start >= per:
                    start, count = now, 0
                self._window = (start, count + 1)
            if count >= limit:
                raise _Reply(429, {"code": "rest_too_many_requests", "message": "Too many requests.",
                                   "data": {"status": 429}}, {"Retry-After": str(retry_after)})
        if self.html_mode == "maintenance":
            raise _Reply(503, _HTML(MAINTENANCE_PAGE), {"Retry-After": str(self.maintenance_retry_after)})
        if self.html_mode == "challenge":
            raise _Reply(200, _HTML(CHALLENGE_PAGE))
        if self.html_mode == "blocked":
            raise _Reply(403, _HTML(BLOCKED_PAGE))

    def _route(self, method: str, route: str | None) -> tuple[Callable, tuple]:
        routes = [
            ("GET", r"/orders", self._list_orders),
            ("GET", r"/orders/(\d+)", self._get_order),
            ("GET", r"/orders/(\d+)/refunds", self._list_refunds),
            ("GET", r"/reports/orders/totals", self._order_totals),
            ("GET", r"/webhooks", self._list_webhooks),
            ("POST", r"/webhooks", self._create_webhook),
            ("GET", r"/webhooks/(\d+)", self._get_webhook),
            ("DELETE", r"/webhooks/(\d+)", self._delete_webhook),
        ]
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, route or "")
            if match and verb == method:
                return handler, tuple(int(g) for g in match.groups())
        raise wp_error(404, "rest_no_route", "No route was found matching the URL and request method")

    def _authenticate(self, environ: dict, query: dict[str, str], method: str) -> bool:
        """Whether credentials came; wrong ones are refused here.

        As WC_REST_Authentication: the key and secret (Basic, or in the query) count only over
        HTTPS; otherwise, and whenever they fail to sign a user in, OAuth 1.0a is tried."""
        key = secret = None
        over_https = environ.get("wsgi.url_scheme") == "https" or self.sees_https
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not over_https:
            pass  # WooCommerce does not even look at the keys: only an OAuth signature can sign in
        elif header.startswith("Basic ") and not self.drop_authorization_header:
            try:
                key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                key = secret = None
        elif "consumer_key" in query:
            key, secret = query.get("consumer_key"), query.get("consumer_secret", "")
        if key is None:
            return self._oauth(environ, query, method)
        if not hmac.compare_digest(key, self.consumer_key):
            raise wp_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        if not hmac.compare_digest(secret or "", self.consumer_secret):
            raise wp_error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")
        return self._permitted(method)

    def _permitted(self, method: str) -> bool:
        need = "read" if method in ("GET", "HEAD") else "write"
        if need not in self.key_permissions:
            raise wp_error(401, "woocommerce_rest_authentication_error",
                           f"The API key provided does not have {need} permissions.")
        return True

    def _oauth(self, environ: dict, query: dict[str, str], method: str) -> bool:
        """OAuth 1.0a one-legged, WooCommerce's way: parameters from the query (or an `OAuth`
        Authorization header), all of them signed; HMAC-SHA1/256 keyed `secret&`; the base
        URI is the site's address with the scheme the request came by; timestamps within
        15 minutes of the machine's clock (the fake's `now` is the shop's calendar only);
        each nonce once (kept per timestamp, as WooCommerce keeps them)."""
        params = dict(query)
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header.startswith("OAuth ") and not self.drop_authorization_header:
            params.update({k.strip(): unquote(v.strip().strip('"'))
                           for k, _, v in (part.partition("=") for part in header[6:].split(","))})
        required = ("oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method")
        missing = [name for name in required if not params.get(name)]
        if len(missing) == len(required):
            return False  # no credentials at all: the route's permission check answers
        if missing:
            raise wp_error(401, "woocommerce_rest_authentication_error",
                           f"Missing OAuth parameter {', '.join(missing)}")
        if not hmac.compare_digest(params["oauth_consumer_key"], self.consumer_key):
            raise wp_error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        given = unquote(params.pop("oauth_signature").replace(" ", "+"))
        scheme = environ.get("wsgi.url_scheme", "http")
        base_uri = _rfc3986(f"{scheme}://{self.site_url.split('://', 1)[1].rstrip('/')}{environ.get('PATH_INFO', '')}")
        pairs = [f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(params.items())]
        signed = f"{method.upper()}&{base_uri}&{'%26'.join(_rfc3986(pair) for pair in pairs)}"
        algorithm = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}.get(params["oauth_signature_method"])
        if algorithm is None:
            raise wp_error(401, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")
        expected = base64.b64encode(hmac.new(f"{self.consumer_secret}&".encode(), signed.encode(), algorithm).digest())
        if not hmac.compare_digest(expected.decode(), given):
            raise wp_error(401, "woocommerce_rest_authentication_error",
                           "Invalid signature - provided signature does not match.")
        timestamp = int(params["oauth_timestamp"]) if params["oauth_timestamp"].isdigit() else 0
        if abs(timestamp - time.time()) > 15 * 60:
            raise wp_error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        if params["oauth_nonce"] in self.oauth_nonces.values():
            raise wp_error(401, "woocommerce_rest_authentication_error",
                           "Invalid nonce - nonce has already been used.")
        self.oauth_nonces[timestamp] = params["oauth_nonce"]
        self.oauth_requests += 1
        return self._permitted(method)

    # --- routes ---------------------------------------------------------------------------
    def _list_orders(self, environ: dict, query: list[tuple[str, str]]) -> tuple[int, Any, dict]:
        args = _Args(query)
        per_page = args.integer("per_page", 10, 1, self.per_page_cap)
        page = args.integer("page", 1, 1, None)
        offset = args.integer("offset", None, 0, None)
        orderby = args.choice("orderby", ORDERBY, "date")
        order = args.choice("order", ("asc", "desc"), "desc")
        statuses = args.listed("status", ["any"], ("any", "trash", *self.statuses))
        gmt = args.boolean("dates_are_gmt", False)
        bounds = {name: args.date(name) for name in ("after", "before", "modified_after", "modified_before")}
        if not self.supports_modified_after:
            bounds["modified_after"] = bounds["modified_before"] = None
        include = [int(v) for v in args.listed("include", [], None)]
        exclude = {int(v) for v in args.listed("exclude", [], None)}
        for hook in list(self.on_list):
            hook(self, dict(query))
        matches = [
            e for e in self.orders.values()
            if (e.status in statuses or ("any" in statuses and e.status != "trash"))
            and self._within(e, bounds, gmt)
            and (not include or e.id in include) and e.id not in exclude
        ]
        if not self.honours_orderby:
            orderby, order = "date", "desc"
        if not self.honours_offset:
            offset = None
        if orderby == "include" and include:
            matches.sort(key=lambda e: include.index(e.id), reverse=order == "desc")
        elif orderby == "date":
            matches.sort(key=lambda e: (e.created_gmt, e.id), reverse=order == "desc")
        else:  # id; an order's title and slug follow its id
            matches.sort(key=lambda e: e.id, reverse=order == "desc")
        start = offset if offset is not None else (page - 1) * per_page
        chosen = matches[start:start + per_page]
        total = len(matches)
        pages = math.ceil(total / per_page)
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)} if self.sends_totals else {}
        link = self._link(environ, query, page, pages)
        if link:
            headers["Link"] = link
        return 200, [self.order_json(e.id) for e in chosen], headers

    def _get_order(self, environ: dict, query: list, order_id: int) -> tuple[int, Any, dict]:
        if order_id not in self.orders:
            raise wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return 200, self.order_json(order_id), {}

    def _list_refunds(self, environ: dict, query: list, order_id: int) -> tuple[int, Any, dict]:
        if order_id not in self.orders:
            raise wp_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        args = _Args(query)
        per_page = args.integer("per_page", 10, 1, self.per_page_cap)
        page = args.integer("page", 1, 1, None)
        refunds = self.refunds_json(order_id)
        pages = math.ceil(len(refunds) / per_page)
        headers = {"X-WP-Total": str(len(refunds)), "X-WP-TotalPages": str(pages)}
        return 200, refunds[(page - 1) * per_page:page * per_page], headers

    def _order_totals(self, environ: dict, query: list) -> tuple[int, Any, dict]:
        counts: dict[str, int] = {}
        for entry in self.orders.values():
            counts[entry.status] = counts.get(entry.status, 0) + 1
        return 200, [{"slug": slug, "name": name, "total": counts.get(slug, 0)} for slug, name in self.statuses.items()], {}

    def _list_webhooks(self, environ: dict, query: list) -> tuple[int, Any, dict]:
        hooks = [self._webhook_json(w) for w in self.webhooks.values()]
        return 200, hooks, {"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": "1"}

    def _get_webhook(self, environ: dict, query: list, webhook_id: int) -> tuple[int, Any, dict]:
        if webhook_id not in self.webhooks:
            raise wp_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return 200, self._webhook_json(self.webhooks[webhook_id]), {}

    def _delete_webhook(self, environ: dict, query: list, webhook_id: int) -> tuple[int, Any, dict]:
        if webhook_id not in self.webhooks:
            raise wp_error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        if dict(query).get("force") not in ("true", "1"):
            raise wp_error(501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
        return 200, self._webhook_json(self.webhooks.pop(webhook_id)), {}

    def _create_webhook(self, environ: dict, query: list) -> tuple[int, Any, dict]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            raise wp_error(400, "rest_invalid_json", "Invalid JSON body passed.") from None
        missing = [k for k in ("topic", "delivery_url") if not body.get(k)]
        if missing:
            raise wp_error(400, "rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}",
                           params=missing)
        if not WEBHOOK_TOPICS.match(str(body["topic"])):
            raise wp_error(400, "woocommerce_rest_webhook_invalid_topic", "Webhook topic is invalid.")
        now = self._tick()
        webhook_id = self._next_webhook_id
        self._next_webhook_id += 1
        resource, _, event = str(body["topic"]).partition(".")
        webhook = {
            "id": webhook_id,
            "name": body.get("name") or f"Webhook created on {now:%B %d, %Y @ %I:%M %p}",
            "status": body.get("status") or "active",
            "topic": body["topic"], "resource": resource, "event": event, "hooks": [],
            "delivery_url": body["delivery_url"],
            # write-only in the API; without one WooCommerce derives it from the user (docs)
            "secret": body.get("secret") or hashlib.md5(b"1admin").hexdigest(),
            "date_created": self._local(now), "date_created_gmt": _wc(now),
            "date_modified": self._local(now), "date_modified_gmt": _wc(now),
            "failure_count": 0,
        }
        self.webhooks[webhook_id] = webhook
        if self.ping_on_create:
            self.ping(webhook_id)
        return 201, self._webhook_json(webhook), {"Location": f"{self.site_url}{API}/webhooks/{webhook_id}"}

    def _webhook_json(self, webhook: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in webhook.items() if k not in ("secret", "failure_count")}
        shown["_links"] = {"self": [{"href": f"{self.site_url}{API}/webhooks/{webhook['id']}"}],
                           "collection": [{"href": f"{self.site_url}{API}/webhooks"}]}
        return shown

    def _within(self, entry: _Entry, bounds: dict[str, datetime | None], gmt: bool) -> bool:
        shift = timedelta(0) if gmt else self.utc_offset  # without dates_are_gmt, bounds are local times
        created, modified = entry.created_gmt + shift, entry.modified_gmt + shift
        checks = (
            (bounds["after"], lambda b: created > b), (bounds["before"], lambda b: created < b),
            (bounds["modified_after"], lambda b: modified > b), (bounds["modified_before"], lambda b: modified < b),
        )
        return all(bound is None or test(bound) for bound, test in checks)

    def _link(self, environ: dict, query: list[tuple[str, str]], page: int, pages: int) -> str:
        base = f"{self.site_url}{environ.get('PATH_INFO', '')}"
        rest = [(k, v) for k, v in query if k != "page"]

        def url(number: int) -> str:
            return f"{base}?{urlencode([*rest, ('page', str(number))])}"

        links = []
        if page > 1:
            links.append(f'<{url(min(page - 1, pages) or 1)}>; rel="prev"')
        if pages > page:
            links.append(f'<{url(page + 1)}>; rel="next"')
        return ", ".join(links)

    # --- the shop's data ------------------------------------------------------------------
    def order_json(self, order_id: int) -> dict[str, Any]:
        entry = self.orders[order_id]
        return entry.raw if entry.raw is not None else self._build(entry)

    def refunds_json(self, order_id: int) -> list[dict[str, Any]]:
        if order_id in self.refunds:
            return self.refunds[order_id]
        entry = self.orders[order_id]
        if entry.recipe is not None and TEMPLATES[entry.recipe[0]] == 723:
            return self._built_refunds(entry)
        return []

    def add_order(self, raw: dict[str, Any], refunds: list[dict[str, Any]] | None = None) -> int:
        """Store an order as given (its dates included); refunds default to ones made from
        the order's `refunds` summary (amount and reason, no lines)."""
        raw = copy.deepcopy(raw)
        order_id = int(raw["id"])
        with self._lock:
            self.orders[order_id] = _Entry(
                id=order_id, status=raw.get("status", "pending"),
                created_gmt=_parse(raw.get("date_created_gmt")) or self._tick(),
                modified_gmt=_parse(raw.get("date_modified_gmt")) or self._tick(), raw=raw,
            )
            if refunds is not None:
                self.refunds[order_id] = copy.deepcopy(refunds)
            elif raw.get("refunds"):
                self.refunds[order_id] = [self._refund_from_summary(raw, s) for s in raw["refunds"]]
        return order_id

    def load_vendor_examples(self) -> list[int]:
        """Orders 723 (with refunds 726 and 724), 727, 728 and 729: the documentation's, or
        our lookalikes in a clone without the vendor folder (see woocommerce_examples)."""
        refunds = [examples.refund(726), examples.refund(724)]
        ids = [self.add_order(examples.order(723), refunds=refunds)]
        ids += [self.add_order(examples.order(n)) for n in (727, 728, 729)]
        return ids

    def load_orders_dir(self, folder: Path) -> list[int]:
        return [self.add_order(json.loads(path.read_text(encoding="utf-8"))) for path in sorted(Path(folder).glob("*.json"))]

    def generate(self, count: int, *, first_id: int = 10_000, modified_from: datetime | None = None) -> list[int]:
        """`count` orders built from the vendor examples: ids 3 apart (refunds take the ids
        between, as in WordPress), quantities ×1..3 with totals recomputed, modified one
        second apart, the newest two seconds ago (or starting at `modified_from`).

        Two seconds, not now: a pass longer than a page leaves what was saved in the second
        before it began to the next run (see WooCommerceShop.changed_orders), and a test or
        benchmark that generates orders and syncs at once means them all."""
        self._load_templates()
        start = modified_from or self._now().replace(microsecond=0) - timedelta(seconds=count + 1)
        ids = []
        with self._lock:
            for i in range(count):
                order_id = first_id + 3 * i
                modified = start + timedelta(seconds=i)
                template, multiplier = i % len(TEMPLATES), 1 + (i // len(TEMPLATES)) % 3
                status = self._templates[template]["status"]  # type: ignore[index]
                self.orders[order_id] = _Entry(order_id, status, modified - timedelta(minutes=5), modified,
                                               recipe=(template, multiplier))
                ids.append(order_id)
            last = start + timedelta(seconds=count - 1)
            self._last_tick = max(self._last_tick or last, last)
        return ids

    def modify(self, order_id: int, change: Callable[[dict[str, Any]], None] | None = None, **fields: Any) -> dict[str, Any]:
        """Change an order as the shop would: fields set, date_modified(_gmt) moved to now."""
        with self._lock:
            entry = self.orders[order_id]
            raw = copy.deepcopy(self.order_json(order_id))
            if entry.recipe is not None and order_id not in self.refunds:
                self.refunds[order_id] = self.refunds_json(order_id)
            raw.update(fields)
            if change:
                change(raw)
            now = self._tick()
            raw["date_modified_gmt"], raw["date_modified"] = _wc(now), self._local(now)
            entry.raw, entry.recipe = raw, None
            entry.status, entry.modified_gmt = raw.get("status", entry.status), now
            return raw

    def trash(self, order_id: int) -> None:
        self.modify(order_id, status="trash")

    def delete(self, order_id: int) -> None:
        with self._lock:
            self.orders.pop(order_id)
            self.refunds.pop(order_id, None)

    def add_refund(self, order_id: int, amount: str, reason: str = "", line_items: list[dict] | None = None,
                   shipping_lines: list[dict] | None = None, fee_lines: list[dict] | None = None) -> dict[str, Any]:
        """A refund as WooCommerce records one: its own object, a summary on the order, the order modified.
        Its lines (negative amounts) as the REST API lists them: products, shipping and fees
        (WC_REST_Order_Refunds_V2_Controller::get_formatted_item_data)."""
        with self._lock:
            refund_id = max([*self.orders, *(r["id"] for rs in self.refunds.values() for r in rs)]) + 1
            now = self._tick()
            refund = {"id": refund_id, "date_created": self._local(now), "date_created_gmt": _wc(now),
                      "amount": amount, "reason": reason, "refunded_by": 1, "refunded_payment": False,
                      "meta_data": [], "line_items": line_items or [], "shipping_lines": shipping_lines or [],
                      "tax_lines": [], "fee_lines": fee_lines or []}
            existing = self.refunds_json(order_id)
            self.refunds[order_id] = [refund, *existing]
            self.modify(order_id, lambda raw: raw.__setitem__(
                "refunds", [{"id": refund_id, "reason": reason, "total": f"-{amount}"}, *(raw.get("refunds") or [])]))
            return refund

    def add_status(self, slug: str, name: str) -> None:
        """A custom order status, as plugins register them."""
        self.statuses[slug] = name

    # --- webhooks -------------------------------------------------------------------------
    def deliver(self, webhook_id: int, order_id: int | None = None, *, payload: Any = None) -> int:
        """Send one delivery the way WC_Webhook::deliver does; returns the receiver's status.

        Success is 200 <= status < 303; past 5 consecutive failures the webhook is disabled.
        """
        import requests

        webhook = self.webhooks[webhook_id]
        topic = webhook["topic"]
        if payload is None:
            payload = {"id": order_id} if topic.endswith(".deleted") else self.order_json(order_id)  # type: ignore[arg-type]
        body = wp_json(payload).strip()
        signature = base64.b64encode(hmac.new(_wp_decode(webhook["secret"]).encode(), body, hashlib.sha256).digest())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WooCommerce/7.8.2 Hookshot (WordPress/6.1.9)",
            "X-WC-Webhook-Source": self.site_url.rstrip("/") + "/",
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": webhook["resource"],
            "X-WC-Webhook-Event": webhook["event"],
            "X-WC-Webhook-Signature": signature.decode(),
            "X-WC-Webhook-ID": str(webhook_id),
            # WC_Webhook::get_new_delivery_id: wp_hash(id . strtotime('now')): one id a second, whatever the order.
            "X-WC-Webhook-Delivery-ID": hashlib.md5(f"{webhook_id}{int(self._now().timestamp())}".encode()).hexdigest(),
        }
        try:
            status = requests.post(webhook["delivery_url"], data=body, headers=headers, timeout=60,
                                   allow_redirects=False).status_code
        except requests.RequestException:
            status = 0
        self.deliveries.append({"webhook_id": webhook_id, "body": body, "headers": headers, "status": status})
        if 200 <= status < 303:
            webhook["failure_count"] = 0
        elif webhook["failure_count"] > 5:
            webhook["status"] = "disabled"
        else:
            webhook["failure_count"] += 1
        return status

    def ping(self, webhook_id: int) -> int:
        """The ping on create: form-style body, no X-WC-* headers, no signature."""
        import requests

        webhook = self.webhooks[webhook_id]
        try:
            return requests.post(webhook["delivery_url"], data=f"webhook_id={webhook_id}",
                                 headers={"User-Agent": "WooCommerce/7.8.2 Hookshot (WordPress/6.1.9)",
                                          "Content-Type": "application/x-www-form-urlencoded"},
                                 timeout=60).status_code
        except requests.RequestException:
            return 0

    # --- building orders ------------------------------------------------------------------
    def _tick(self) -> datetime:
        """Now, to the second, and always after the last change (WooCommerce keeps seconds)."""
        now = self._now().astimezone(timezone.utc).replace(microsecond=0)
        if self._last_tick is not None and now <= self._last_tick:
            now = self._last_tick + timedelta(seconds=1)
        self._last_tick = now
        return now

    def _local(self, moment: datetime) -> str:
        return _wc(moment + self.utc_offset)

    def _load_templates(self) -> None:
        if self._templates is None:
            self._templates = [examples.order(n) for n in TEMPLATES]

    def _build(self, entry: _Entry) -> dict[str, Any]:
        self._load_templates()
        template, k = entry.recipe  # type: ignore[misc]
        raw = copy.deepcopy(self._templates[template])  # type: ignore[index]
        oid = entry.id
        raw.update(id=oid, number=str(oid), order_key=f"wc_order_{oid:013x}", status=entry.status)
        for key, moment in (("date_created", entry.created_gmt), ("date_modified", entry.modified_gmt)):
            raw[f"{key}_gmt"], raw[key] = _wc(moment), self._local(moment)
        if raw.get("date_paid_gmt"):
            raw["date_paid_gmt"], raw["date_paid"] = _wc(entry.created_gmt), self._local(entry.created_gmt)
        if raw.get("date_completed_gmt"):
            raw["date_completed_gmt"], raw["date_completed"] = _wc(entry.modified_gmt), self._local(entry.modified_gmt)
        by_rate: dict[Any, Decimal] = {}
        for j, item in enumerate(raw["line_items"]):
            item["id"] = oid * 10 + j
            item["quantity"] = item["quantity"] * k
            for key in ("subtotal", "total"):
                item[key] = _money(Decimal(item[key]) * k)
            for tax in item["taxes"]:
                for key in ("subtotal", "total"):
                    tax[key] = _exact(Decimal(tax[key]) * k)
                rounded = _round(Decimal(tax["total"]))
                by_rate[tax["id"]] = by_rate.get(tax["id"], Decimal(0)) + rounded
            item["subtotal_tax"] = _money(sum((_round(Decimal(t["subtotal"])) for t in item["taxes"]), Decimal(0)))
            item["total_tax"] = _money(sum((_round(Decimal(t["total"])) for t in item["taxes"]), Decimal(0)))
        for j, line in enumerate(raw["shipping_lines"]):
            line["id"] = oid * 10 + 7 + j
        for j, tax_line in enumerate(raw["tax_lines"]):
            tax_line["id"] = oid * 10 + 9
            tax_line["tax_total"] = _money(by_rate.get(tax_line["rate_id"], Decimal(0)))
        cart_tax = sum((Decimal(i["total_tax"]) for i in raw["line_items"]), Decimal(0))
        shipping = sum((Decimal(s["total"]) for s in raw["shipping_lines"]), Decimal(0))
        shipping_tax = sum((Decimal(s["total_tax"]) for s in raw["shipping_lines"]), Decimal(0))
        fees = sum((Decimal(f["total"]) + Decimal(f["total_tax"]) for f in raw["fee_lines"]), Decimal(0))
        items = sum((Decimal(i["total"]) for i in raw["line_items"]), Decimal(0))
        raw.update(cart_tax=_money(cart_tax), shipping_total=_money(shipping), shipping_tax=_money(shipping_tax),
                   total_tax=_money(cart_tax + shipping_tax), total=_money(items + shipping + fees + cart_tax + shipping_tax))
        if raw.get("refunds"):
            raw["refunds"] = [{"id": r["id"], "refund": "", "total": f"-{r['amount']}"} for r in self._built_refunds(entry)]
        raw["_links"] = {"self": [{"href": f"{self.site_url}{API}/orders/{oid}"}],
                         "collection": [{"href": f"{self.site_url}{API}/orders"}]}
        return raw

    def _built_refunds(self, entry: _Entry) -> list[dict[str, Any]]:
        """Order 723's refunds, renumbered: the shipping (ids +2) and one returned album (+1)."""
        if self._refund_templates is None:
            self._refund_templates = [examples.refund(726), examples.refund(724)]
        shipping, album = copy.deepcopy(self._refund_templates)
        refunds = []
        for refund, offset in ((shipping, 2), (album, 1)):
            refund["id"] = entry.id + offset
            moment = entry.modified_gmt - timedelta(seconds=10 * offset)
            refund["date_created_gmt"], refund["date_created"] = _wc(moment), self._local(moment)
            for item in refund["line_items"]:
                item["id"] = entry.id * 10 + 5
                for meta in item["meta_data"]:
                    if meta["key"] == "_refunded_item_id":
                        meta["value"] = str(entry.id * 10)  # the album is the order's first line
            refund["_links"] = {"up": [{"href": f"{self.site_url}{API}/orders/{entry.id}"}]}
            refunds.append(refund)
        return refunds

    def _refund_from_summary(self, raw: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
        moment = _parse(raw.get("date_modified_gmt")) or self._tick()
        amount = _money(abs(Decimal(str(summary.get("total", "0")))))
        return {"id": summary["id"], "date_created": self._local(moment), "date_created_gmt": _wc(moment),
                "amount": amount, "reason": summary.get("reason", ""), "refunded_by": 1,
                "refunded_payment": False, "meta_data": [], "line_items": []}


class WooServer(FakeServer):
    """One loopback server for many fakes in turn (a module-scoped fixture): starting and
    stopping a server costs half a second, a fresh FakeWooCommerce nothing.

    `use(fake)` plugs a shop in and forgets the requests, faults and latency of the last one.
    """

    def __init__(self, **kwargs: Any):
        self.fake: FakeWooCommerce | None = None
        super().__init__(self._dispatch, **kwargs)

    def _dispatch(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        assert self.fake is not None, "WooServer.use(fake) first"
        return self.fake.app(environ, start_response)

    def use(self, fake: FakeWooCommerce) -> FakeWooCommerce:
        fake.site_url = self.url
        with self._lock:
            self.requests.clear()
        self.faults, self.latency, self.fake = None, 0.0, fake
        return fake

    def list_queries(self) -> list[dict[str, list[str]]]:
        """The query of each order-list request (not single orders, not refunds), in order."""
        return [parse_qs(r.query) for r in self.calls("GET", f"{API}/orders") if r.path == f"{API}/orders"]

    def connect(self) -> Iterator["WooCommerceShop"]:
        """The WooCommerce connector pointed at the fake in use; closed after."""
        from iexsync.shops.woocommerce import WooCommerceShop

        assert self.fake is not None, "WooServer.use(fake) first"
        connector = WooCommerceShop.from_config(self.fake.shop_config(self), None)  # type: ignore[arg-type]
        try:
            yield connector
        finally:
            connector.close()


class _HTML:
    def __init__(self, text: str):
        self.text = text


class _Args:
    """Query parameters checked the way WordPress does: the first bad one is a 400 rest_invalid_param."""

    def __init__(self, query: list[tuple[str, str]]):
        self.values: dict[str, list[str]] = {}
        for key, value in query:
            self.values.setdefault(key[:-2] if key.endswith("[]") else key, []).append(value)

    def _one(self, name: str) -> str | None:
        values = self.values.get(name)
        return values[-1] if values else None

    def _bad(self, name: str, why: str) -> _Reply:
        return wp_error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: why},
                        details={name: {"code": "rest_invalid_param", "message": why, "data": None}})

    def integer(self, name: str, default: int | None, low: int, high: int | None) -> int | None:
        value = self._one(name)
        if value in (None, ""):
            return default
        if not re.fullmatch(r"-?\d+", value):
            raise self._bad(name, f"{name} is not of type integer.")
        number = int(value)
        if high is not None and not low <= number <= high:
            raise self._bad(name, f"{name} must be between {low} (inclusive) and {high} (inclusive)")
        if number < low:
            raise self._bad(name, f"{name} must be greater than or equal to {low}")
        return number

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self._one(name)
        if value in (None, ""):
            return default
        if value not in options:
            raise self._bad(name, f"{name} is not one of {', '.join(options[:-1])}, and {options[-1]}.")
        return value

    def listed(self, name: str, default: list[str], options: tuple[str, ...] | None) -> list[str]:
        values = [v.strip() for raw in self.values.get(name, []) for v in raw.split(",") if v.strip()]
        for index, value in enumerate(values):
            if options is not None and value not in options:
                raise self._bad(name, f"{name}[{index}] is not one of {', '.join(options)}.")
            if options is None and not value.isdigit():
                raise self._bad(name, f"{name}[{index}] is not of type integer.")
        return values or default

    def boolean(self, name: str, default: bool) -> bool:
        value = self._one(name)
        if value in (None, ""):
            return default
        if value.lower() not in ("true", "false", "1", "0"):
            raise self._bad(name, f"{name} is not of type boolean.")
        return value.lower() in ("true", "1")

    def date(self, name: str) -> datetime | None:
        value = self._one(name)
        if value in (None, ""):
            return None
        parsed = _parse(value, keep_zone=True)
        if parsed is None:
            raise wp_error(400, "rest_invalid_param", f"Invalid parameter(s): {name}", params={name: "Invalid date."})
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc)
        return parsed.replace(tzinfo=timezone.utc)


def _parse(value: Any, keep_zone: bool = False) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    if parsed.tzinfo is None and not keep_zone:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _wc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _round(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(amount: Decimal) -> str:
    return str(_round(amount))


def _exact(amount: Decimal) -> str:
    """An unrounded tax amount as WooCommerce prints it: "1.125", "0.9", "2.25"."""
    text = format(amount.normalize(), "f")
    return text


def _wp_decode(secret: str) -> str:
    for entity, char in (("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'")):
        secret = secret.replace(entity, char)
    return secret


def _html(start_response: Callable, status: int, text: str, headers: dict[str, str] | None = None) -> list[bytes]:
    body = text.encode()
    start_response(f"{status} {_REASONS.get(status, 'Status')}",
                   [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", str(len(body))),
                    *(headers or {}).items()])
    return [body]


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
            503: "Service Unavailable"}
