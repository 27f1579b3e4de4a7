"""Talking to Dinero's API: the bearer token, pacing under the rate limit, exact JSON
numbers, lists with queryFilter and paging, and Dinero's errors.

Facts (../shared/vendor/dinero/README.md): every path is under `/v1/{organizationId}/…`
(a few under v1.2 and v2); 100 requests a minute per organisation, 429 over it; lists
answer `{"Collection": [...], "Pagination": {...}}` with a 0-based `page` and `pageSize`
up to 1000; an unknown invoice or credit-note guid is 400 with code 63, an unknown contact
404. Money travels as JSON numbers written from Decimal and read back into Decimal.

Pacing: a token bucket refilled at 90 % of the allowed rate with a burst of a twentieth of
the window's allowance, so no window of the API's length can ever hold more than 95 % of the
limit (the rest absorbs the network's jitter); a 500-order import meets no 429. A 429 that comes anyway (another client of the same
organisation) is waited out: reads by urllib3's Retry, honouring Retry-After; writes here,
since a 429 means Dinero did nothing.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import requests

from iexsync import errors
from iexsync.books.dinero.auth import TokenSource
from iexsync.books.dinero.config import DineroSettings
from iexsync.books.dinero.errors import NO_PRO, NO_RESULTS, NOT_FOUND, UNAUTHORISED, DELETED, describe_rejection, error_code
from iexsync.http import Client, classify_status, strip_query
from iexsync.redaction import redact
from iexsync.toolkit.exactjson import exact_json

WHAT = "Dinero"
PAGE_SIZE = 1000  # the documented maximum: one request for any realistic lookup
MAX_PAGES = 50
WRITE_RETRIES_ON_429 = 3
MAX_RETRY_AFTER = 60.0  # Dinero says: wait a minute and continue
PACE = 0.90  # share of the allowed rate the bucket refills at
BURST = 0.05  # share of the window's allowance that may go at once
MISSING_CODES = (NOT_FOUND, NO_RESULTS, DELETED)


class Rejected(errors.RemoteRejected):
    """Dinero refused a request (4xx): its status and error code, for callers that react to one."""

    def __init__(self, message: str, status: int, code: int | None, body: Any):
        super().__init__(message)
        self.status, self.code, self.body = status, code, body


def pacing(settings: DineroSettings) -> tuple[float, int]:
    """(requests per second, burst) for the client-side bucket."""
    burst = max(1, int(settings.rate_requests * BURST))
    return PACE * settings.rate_requests / settings.rate_seconds, burst


def dumps(value: Any) -> str:
    """JSON with Decimals as exact numbers; floats refused (money is never float)."""
    return exact_json(value, "Dinero")


def filterable(value: str) -> bool:
    """Whether `<Field> eq '<value>'` can say it: Dinero documents no escape for a quote, and `;` joins conditions."""
    return "'" not in value and ";" not in value


def quoted(value: str, what: str) -> str:
    """A value for `queryFilter=<Field> eq '<value>'`."""
    if not filterable(value):
        raise errors.MappingError(f"the {what} {value!r} holds a ' or ; which Dinero's queryFilter cannot search for")
    return f"'{value}'"


class DineroApi:
    def __init__(self, settings: DineroSettings, pool_size: int = 10):
        rate, burst = pacing(settings)
        timeout = (min(5.0, settings.timeout), settings.timeout)
        self.org = settings.organization_id
        self.client = Client(
            settings.url, what=WHAT, headers={"Content-Type": "application/json"},
            allow_insecure_http=settings.allow_insecure_http, rate_limit=rate, burst=burst,
            pool_size=pool_size, timeout=timeout, ca_bundle=settings.ca_bundle, ca_bundle_key="accounting.ca_bundle",
        )
        auth_client = Client(settings.auth_url, what=WHAT, allow_insecure_http=settings.allow_insecure_http,
                             timeout=timeout, ca_bundle=settings.ca_bundle, ca_bundle_key="accounting.ca_bundle")
        self.tokens = TokenSource(auth_client, settings.auth_url, settings.client_id, settings.client_secret,
                                  settings.api_key)

    @property
    def calls(self) -> int:
        return self.client.calls

    def close(self) -> None:
        self.client.close()
        self.tokens.client.close()

    def path(self, path: str, version: str = "v1") -> str:
        return f"{version}/{self.org}/{path.lstrip('/')}"

    # --- reads --------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None, *, version: str = "v1",
            missing_ok: bool = False, subject: str = "") -> Any:
        response = self._send("GET", self.path(path, version), params=params)
        if missing_ok and _missing(response):
            return None
        self._raise_for(response, subject)
        return loads(response)

    def list(self, path: str, *, query_filter: str | None = None, fields: str | None = None) -> list[dict[str, Any]]:
        """Every item of a (filtered) list, page by page."""
        items: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            params: dict[str, Any] = {"page": page, "pageSize": PAGE_SIZE}
            if query_filter:
                params["queryFilter"] = query_filter
            if fields:
                params["fields"] = fields
            answer = self.get(path, params)
            collection = (answer or {}).get("Collection") or []
            items += collection
            if len(collection) < PAGE_SIZE:
                return items
        raise errors.RemoteUnavailable(f"{WHAT}: {path} has more than {MAX_PAGES} pages for {query_filter!r}")

    # --- writes -------------------------------------------------------------------------
    def post(self, path: str, body: dict[str, Any], *, subject: str = "", line_labels: list[str] | None = None,
             version: str = "v1") -> Any:
        return self._write("POST", self.path(path, version), body, subject, line_labels)

    def put(self, path: str, body: dict[str, Any], *, subject: str = "", line_labels: list[str] | None = None,
            version: str = "v1") -> Any:
        return self._write("PUT", self.path(path, version), body, subject, line_labels)

    def delete(self, path: str, body: dict[str, Any], *, subject: str = "") -> bool:
        """DELETE a document with its Timestamp; False when it was not there (or deleted
        already). A lost answer is not repeated here: the caller reads the document again."""
        response = self._send("DELETE", self.path(path), data=dumps(body).encode())
        if _missing(response):
            return False
        self._raise_for(response, subject)
        return True

    def _write(self, method: str, path: str, body: dict[str, Any], subject: str, line_labels: list[str] | None) -> Any:
        data = dumps(body).encode()
        for attempt in range(WRITE_RETRIES_ON_429 + 1):
            response = self._send(method, path, data=data)
            if response.status_code != 429 or attempt == WRITE_RETRIES_ON_429:
                break
            time.sleep(retry_after(response, attempt))  # 429: Dinero did nothing, so sending again is safe
        self._raise_for(response, subject, line_labels)
        try:
            return loads(response)
        except errors.RemoteUnavailable as exc:
            # Dinero said yes (2xx) but the answer is unreadable (cut off on the way): what it
            # made is unknown, and only a lookup may settle it.
            raise errors.OutcomeUnknown(f"{exc.message}; the {method} was accepted ({response.status_code})") from None

    # --- the token ----------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request with the current token; a 401 gets one new token and one more try
        (a 401 means Dinero did nothing, so a write may be sent again)."""
        token = self.tokens.token()
        response = self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if response.status_code == 401:
            token = self.tokens.renew(token)
            response = self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        return response

    # --- errors -------------------------------------------------------------------------
    def _raise_for(self, response: requests.Response, subject: str, line_labels: list[str] | None = None) -> None:
        status = response.status_code
        if status < 300:
            return
        method = response.request.method or "GET"
        where = f"{method} {strip_query(response.url)}"
        body = _json_or_none(response)
        code = error_code(body)
        if status == 401:
            raise errors.CredentialsRejected(redact(
                f"Dinero rejected the credentials (401 on {where}, even with a new token); check "
                "accounting.client_id, accounting.client_secret and accounting.api_key"))
        if status == 403:
            if code in NO_PRO:
                raise errors.CredentialsRejected(
                    f"Dinero refused the API (403, code {code}): the organisation has no Pro subscription, which "
                    "Dinero's API requires; upgrade it in Dinero (Settings → Subscription) or check "
                    "accounting.organization_id")
            why = "the API key's user lacks permission" if code == UNAUTHORISED else "no access"
            raise errors.CredentialsRejected(redact(
                f"Dinero refused {where} (403{f', code {code}' if code is not None else ''}: {why}); the API key "
                "must belong to organisation accounting.organization_id and a user allowed to invoice"))
        if 400 <= status < 500 and status != 429:
            if body is None and status == 404:
                raise Rejected(redact(f"Dinero: {where} was not found (404 without Dinero's error body); "
                                      "check accounting.url"), status, None, None)
            raise Rejected(redact(describe_rejection(body, subject or where, status, line_labels)), status, code, body)
        classify_status(response, WHAT, response.text[:200])


def loads(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null", parse_float=Decimal)
    except (ValueError, RecursionError):
        kind = response.headers.get("Content-Type", "no content type")
        raise errors.RemoteUnavailable(
            redact(f"{WHAT}: {strip_query(response.url)} answered {kind} instead of JSON; a proxy may be in the way")
        ) from None


def retry_after(response: requests.Response, attempt: int) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return min(MAX_RETRY_AFTER, 0.5 * 2**attempt)


def _json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null", parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def _missing(response: requests.Response) -> bool:
    """Not there: 404 (contacts, products), or 400 with 'no results' / 'deleted' (invoices, credit notes)."""
    body = _json_or_none(response)
    if response.status_code == 404:
        return isinstance(body, dict)  # Dinero's own answer; an HTML 404 is a wrong URL, not a missing item
    return response.status_code == 400 and error_code(body) in MISSING_CODES
