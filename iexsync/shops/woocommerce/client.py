"""WooCommerce's REST API v3 over iexsync's HTTP client: where it is, how we authenticate,
and its error answers as errors that tell the merchant what to do.

Facts this relies on (woocommerce/woocommerce-rest-api-docs, wp-api-v3):
- auth over HTTPS is HTTP Basic with the consumer key and secret; where a server drops
  the Authorization header, the same two go in the query string (`query_string_auth`);
- errors are `{"code", "message", "data": {"status"}}`; `rest_no_route` means the REST API
  is not where we looked (WooCommerce needs pretty permalinks);
- list answers carry X-WP-Total and X-WP-TotalPages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from iexsync import errors, redaction
from iexsync.http import Client, classify_status, json_body, strip_query
from iexsync.shops.woocommerce.auth import credentials, oauth_refusal

WHAT = "WooCommerce"
API_PATH = "/wp-json/wc/v3"
MAX_PER_PAGE = 100  # WordPress's cap on per_page for every collection

# Where WooCommerce's own error codes tell the merchant what to do.
_PERMALINK_HINT = (
    "check that `url` is the shop's address, that WooCommerce is active, and that WordPress uses "
    "pretty permalinks (Settings → Permalinks: any choice but 'Plain')"
)


class WooCommerceApi:
    """GETs and the error answers of one shop's REST API."""

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        query_string_auth: bool = False,
        allow_insecure_http: bool = False,
        per_page: int = MAX_PER_PAGE,
        timeout: float = 30,
        rate_limit: float | None = None,
        ca_bundle: str | None = None,
        retries: int = 4,
        backoff: float = 0.5,
    ):
        self.api_url = api_url(url)
        self.per_page = per_page
        self.query_string_auth = query_string_auth
        auth, params = credentials(self.api_url, consumer_key, consumer_secret, query_string_auth=query_string_auth)
        self.http = Client(
            self.api_url,
            what=WHAT,
            auth=auth,
            params=params,
            allow_insecure_http=allow_insecure_http,
            ca_bundle=ca_bundle,
            ca_bundle_key="shop.ca_bundle",
            timeout=(min(10.0, timeout), timeout),
            retries=retries,
            backoff=backoff,
            rate_limit=rate_limit,
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        response = self.http.request("GET", path, params=params)
        if response.status_code >= 300:
            self.raise_for(response)
        return response

    def get_list(self, path: str, params: dict[str, Any], what: str) -> tuple[requests.Response, list[Any]]:
        """A run-level read (not one order's): its failures stop the command, not an order."""
        try:
            response = self.get(path, params or None)
            body = json_body(response, WHAT)
        except errors.RemoteUnavailable as exc:
            raise errors.TemporaryFailure(exc.message) from None
        except errors.OrderError as exc:
            raise errors.UserError(exc.message) from None
        if not isinstance(body, list):
            raise errors.TemporaryFailure(f"{WHAT}: {what} is {kind(body)}, expected a list")
        return response, body

    def get_all(self, path: str, params: dict[str, Any], read: Any) -> list[Any]:
        """Every page of a small collection (page-numbered): `read(path, params)` fetches one
        and returns (response, items)."""
        size = params.get("per_page", self.per_page)
        found: list[Any] = []
        page = 1
        while True:
            response, body = read(path, {**params, "per_page": size, "page": page})
            found += body
            pages = int_header(response, "X-WP-TotalPages")
            if len(body) < size or (pages is not None and page >= pages):
                return found
            page += 1

    def raise_for(self, response: requests.Response) -> None:
        """WooCommerce's error answers, as errors that say what to do about them."""
        status = response.status_code
        code, message, data = error_of(response)
        said = f"{code}: {message}" if code else _html_hint(response)
        where = f"{WHAT}: GET {strip_query(response.url)}"
        if status in (401, 403) and not code:
            raise errors.CredentialsRejected(redaction.redact(
                f"{where} answered {status} with {said}, not WooCommerce's own answer: the web server, a security "
                "plugin or a firewall refused the request before WooCommerce saw it; allow iexsync's requests "
                "to /wp-json/ there (its User-Agent is 'iexsync')"
            ))
        refusal = oauth_refusal(where, said, message) if status == 401 else None
        if refusal is not None:
            raise refusal
        if status in (401, 403):
            hint = "check consumer_key and consumer_secret (WooCommerce → Settings → Advanced → REST API)"
            if code == "woocommerce_rest_cannot_view" and not self.query_string_auth and status == 401 \
                    and self.api_url.startswith("https:"):
                hint += ("; if they are right, the web server may be dropping the Authorization header: "
                         "set query_string_auth: true")
            elif status == 403:
                hint = "the key's user may read no orders: make the key for a shop manager or administrator"
            raise errors.CredentialsRejected(redaction.redact(
                f"WooCommerce rejected the API keys (read access needed): {where} answered {status} {said}; {hint}"
            ))
        if status == 404 and (code == "rest_no_route" or not code):
            raise errors.ConfigError([redaction.redact(
                f"shop.url: the WooCommerce REST API was not found at {self.api_url} "
                f"({where} answered 404 {said}); {_PERMALINK_HINT}"
            )])
        if status == 404:
            raise errors.OrderNotFound(redaction.redact(f"{where} answered 404 {said}"))
        if status == 400 and code == "rest_invalid_param" and "per_page" in (data.get("params") or {}):
            detail = data["params"]["per_page"]
            cap = re.search(r"and (\d+) \(inclusive\)", str(detail))
            advice = f"set shop.per_page: {cap.group(1)}" if cap else "lower shop.per_page"
            raise errors.ConfigError([redaction.redact(
                f"shop.per_page: the shop refuses {self.per_page} orders per page ({detail}); {advice}"
            )])
        classify_status(response, WHAT, said)

    def close(self) -> None:
        self.http.close()


def api_url(url: str) -> str:
    """The REST API's base from the shop's address (or from the API's own base)."""
    base = url.strip().rstrip("/")
    if base.endswith(API_PATH):
        return base
    if base.endswith("/wp-json"):
        return base + "/wc/v3"
    return base + API_PATH


def error_of(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """(code, message, data) of a WordPress error body; empty when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return "", "", {}
    if not isinstance(body, dict):
        return "", "", {}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    return str(body.get("code") or ""), str(body.get("message") or "")[:300], data


def _html_hint(response: requests.Response) -> str:
    """What came instead of a WordPress error: named by its title, so the merchant knows the page."""
    kind_of = response.headers.get("Content-Type", "")
    text = response.text[:4000]
    if "html" not in kind_of and not text.lstrip().startswith("<"):
        return f"no WooCommerce error ({response.reason or 'empty'})"
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    import html  # only for this rare answer

    shown = " ".join(html.unescape(title.group(1)).split())[:80] if title else " ".join(text[:80].split())
    return (f"an HTML page {'titled' if title else 'starting'} {shown!r} instead of JSON; maintenance mode, "
            "a security plugin or a proxy may be in the way")


def http_date(value: str | None) -> datetime | None:
    """The shop's clock from a Date header."""
    try:
        moment = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # "-0000": UTC, origin unknown
    return moment


def int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.strip().isdigit() else None


def kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null"}.get(type(value), type(value).__name__)
