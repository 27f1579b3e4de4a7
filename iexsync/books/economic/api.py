"""Talking to e-conomic's REST API: auth headers, exact JSON numbers, filters, paging, errors.

Facts (e-conomic/slate @ f6bf5a4, `_introduction.md`): three headers on every request;
null is never accepted (leave the property out); collections page with skippages and
pagesize (at most 1000) and link the next page; filter values escape `$ ( ) * , [ ]`
with a `$`; resource URLs encode product numbers with e-conomic's own `_n_` scheme.
Money travels as JSON numbers written from Decimal and read back into Decimal: never float.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests

from iexsync import errors
from iexsync.books.economic.errors import describe_rejection
from iexsync.http import Client, classify_status, strip_query
from iexsync.redaction import redact
from iexsync.toolkit.exactjson import exact_json

WHAT = "e-conomic"
PAGE_SIZE = 1000  # the documented maximum: one request for any realistic lookup
MAX_PAGES = 50
WRITE_RETRIES_ON_429 = 3  # a 429 means "not done": safe to send again after the wait

_FILTER_ESCAPES = {c: "$" + c for c in "()*,[]"}
_SELF_LINK_CODES = {
    "<": "_0_", ">": "_1_", "*": "_2_", "%": "_3_", ":": "_4_", "&": "_5_", "/": "_6_",
    "\\": "_7_", "_": "_8_", " ": "_9_", "?": "_10_", ".": "_11_", "#": "_12_", "+": "_13_",
}


def filter_value(value: str) -> str:
    """A literal for `?filter=field$eq:<value>`; the caller's HTTP layer URL-encodes it."""
    text = value.replace("$", "$$")
    return "".join(_FILTER_ESCAPES.get(c, c) for c in text)


def resource_id(value: str) -> str:
    """A product number (or other text id) as it appears in a resource URL."""
    return "".join(
        _SELF_LINK_CODES.get(c) or (c if c.isascii() and c.isalnum() else quote(c, safe=""))
        for c in value
    )


def dumps(value: Any) -> str:
    """JSON with Decimals written as exact numbers; None refused (e-conomic rejects null)."""
    return exact_json(value, "e-conomic", null=False)


def loads(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null", parse_float=Decimal)
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise errors.RemoteUnavailable(
            redact(f"{WHAT}: {strip_query(response.url)} answered {kind} instead of JSON; a proxy may be in the way")
        ) from None


class EconomicApi:
    def __init__(
        self,
        url: str,
        app_secret_token: str,
        agreement_grant_token: str,
        *,
        allow_insecure_http: bool = False,
        rate_limit: float | None = None,
        pool_size: int = 10,
        timeout: float = 30,
        ca_bundle: str | None = None,
    ):
        self.client = Client(
            url,
            what=WHAT,
            headers={
                "X-AppSecretToken": app_secret_token,
                "X-AgreementGrantToken": agreement_grant_token,
                "Content-Type": "application/json",
            },
            allow_insecure_http=allow_insecure_http,
            rate_limit=rate_limit,
            pool_size=pool_size,
            timeout=(min(5.0, timeout), timeout),
            ca_bundle=ca_bundle,
            ca_bundle_key="accounting.ca_bundle",
            write_retries_on_429=WRITE_RETRIES_ON_429,
        )

    @property
    def calls(self) -> int:
        return self.client.calls

    def close(self) -> None:
        self.client.close()

    # --- reads ------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False) -> Any:
        response = self.client.request("GET", path, params=params)
        if missing_ok and response.status_code == 404:
            return None
        self._raise_for(response, "")
        return loads(response)

    def collection(self, path: str, filter: str | None = None,  # noqa: A002 - e-conomic's name
                   max_pages: int = MAX_PAGES) -> list[dict[str, Any]]:
        """Every item of a (filtered) collection; TooManyPages past `max_pages`.

        Pages are requested by number rather than by following `nextPage`: that link names
        e-conomic's own host, which would bypass a configured proxy.
        """
        items: list[dict[str, Any]] = []
        for skip in range(max_pages):
            params = {"skippages": skip, "pagesize": PAGE_SIZE, **({"filter": filter} if filter else {})}
            page = self.get(path, params)
            items += page.get("collection") or []
            if not (page.get("pagination") or {}).get("nextPage"):
                return items
        raise TooManyPages(f"{WHAT}: {path} has more than {max_pages} pages for filter {filter!r}")

    # --- writes -----------------------------------------------------------------------
    def post(self, path: str, body: dict[str, Any], *, subject: str = "", line_labels: list[str] | None = None) -> Any:
        return self._write("POST", path, body, subject, line_labels)

    def put(self, path: str, body: dict[str, Any], *, subject: str = "", line_labels: list[str] | None = None) -> Any:
        return self._write("PUT", path, body, subject, line_labels)

    def delete(self, path: str, *, subject: str = "") -> bool:
        """DELETE a resource; False when it was not there (404). Like PUT, sent again when
        its answer was lost: deleting one resource twice cannot remove two."""
        response = self._send("DELETE", path, b"")
        if response.status_code == 404:
            return False
        self._raise_for(response, subject)
        return True

    def _write(self, method: str, path: str, body: dict[str, Any], subject: str, line_labels: list[str] | None) -> Any:
        data = dumps(body).encode()
        response = self._send(method, path, data)
        self._raise_for(response, subject, line_labels)
        try:
            return loads(response)
        except errors.RemoteUnavailable as exc:
            # e-conomic said yes (2xx) but the answer is unreadable (cut off by a proxy): the
            # write happened and what it made is unknown, so only a lookup may settle it.
            raise errors.OutcomeUnknown(f"{exc.message}; the {method} was accepted ({response.status_code})") from None

    def _send(self, method: str, path: str, data: bytes) -> requests.Response:
        try:
            return self.client.request(method, path, data=data)
        except errors.OutcomeUnknown:
            if method not in ("PUT", "DELETE"):
                raise  # a POST may have created something: only a lookup can tell
            # PUT replaces the whole document, DELETE removes one: sending either again cannot do it twice.
            return self.client.request(method, path, data=data)

    # --- errors -----------------------------------------------------------------------
    def _raise_for(self, response: requests.Response, subject: str, line_labels: list[str] | None = None) -> None:
        status = response.status_code
        if status < 300:
            return
        method = response.request.method or "GET"
        where = f"{method} {strip_query(response.url)}"
        if status in (401, 403):
            why = (
                "the tokens are wrong, missing or revoked" if status == 401
                else "the grant's roles do not cover this resource"
            )
            raise errors.CredentialsRejected(
                redact(
                    f"e-conomic rejected the tokens ({status} on {where}: {why}); check "
                    "accounting.app_secret_token and accounting.agreement_grant_token, and that the "
                    "agreement has granted the app access"
                )
            )
        if status == 400 or status == 404 and method != "GET":
            try:
                body = json.loads(response.content or b"null", parse_float=Decimal)
            except ValueError:
                body = None
            raise errors.RemoteRejected(redact(describe_rejection(body, subject or where, status, line_labels)))
        classify_status(response, WHAT, response.text[:200])


class TooManyPages(errors.RemoteUnavailable):
    """A collection longer than the caller is prepared to hold."""
