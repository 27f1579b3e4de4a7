"""One GraphQL Admin API call at a time, within Shopify's cost budget.

Facts this relies on (../shared/vendor/shopify/README.md, the captured answers beside it):
- every answer carries `extensions.cost {requestedQueryCost, actualQueryCost, throttleStatus
  {maximumAvailable, currentlyAvailable, restoreRate}}`: a leaky bucket per app and store;
- an empty bucket answers HTTP 200 with `errors[].extensions.code == "THROTTLED"` and no data;
  wait (requested - available) / restoreRate and ask again;
- a query over the single-query limit answers `MAX_COST_EXCEEDED` (`cost`, `maxCost`) whatever
  the bucket holds: the caller must ask for less;
- a wrong token is HTTP 401 with `{"errors": "[API] Invalid API key or access token ..."}`;
- an unknown search field is only a warning in `extensions.search[].warnings`.
Queries are reads, so they are retried (429, 5xx, INTERNAL_SERVER_ERROR, a broken connection);
mutations are not (their outcome would be unknown).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from iexsync import errors, redaction
from iexsync.http import MAX_RETRY_AFTER, Client, json_body, strip_query

WHAT = "Shopify"
RETRIES = 5  # 429 / 5xx / internal errors: attempts after the first
MAX_THROTTLED_WAITS = 50  # THROTTLED answers in a row before the run gives up (each one waited for)


class CostExceeded(Exception):
    """The query asks for more than Shopify allows in one request: ask for less."""

    def __init__(self, cost: int, max_cost: int):
        super().__init__(f"query cost {cost} exceeds the single query limit {max_cost}")
        self.cost, self.max_cost = cost, max_cost


class GraphQLErrors(errors.OrderError):
    """Shopify answered with `errors`: one message naming each field (the path) and the code."""

    def __init__(self, message: str, codes: tuple[str, ...]):
        super().__init__(message)
        self.codes = codes


class AccessDenied(errors.CredentialsRejected):
    """ACCESS_DENIED: the token lacks a scope the query needs."""


class Bucket:
    """Our model of Shopify's leaky bucket, refreshed from every answer; shared by threads.

    Before a request we wait until the bucket should hold its cost, so throttling is the
    exception, not the way we learn the limit."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.maximum: float | None = None  # unknown until the first answer
        self.available = 0.0
        self.restore_rate = 0.0
        self.updated = clock()
        self.lock = threading.Lock()

    def observe(self, status: Mapping[str, Any]) -> None:
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return
        with self.lock:
            self.maximum, self.available, self.restore_rate = maximum, available, rate
            self.updated = self.clock()

    def now_available(self) -> float:
        if self.maximum is None:
            return float("inf")
        elapsed = self.clock() - self.updated
        return min(self.maximum, self.available + elapsed * self.restore_rate)

    def take(self, cost: float) -> float:
        """Reserve `cost` points; the seconds to wait before sending (0 when they are there)."""
        with self.lock:
            if self.maximum is None or not self.restore_rate:
                return 0.0
            available = self.now_available()
            self.available, self.updated = available - cost, self.clock()
            return max(0.0, (cost - available) / self.restore_rate)


@dataclass
class Answer:
    data: dict[str, Any]
    requested_cost: int | None
    actual_cost: int | None
    errors: list[dict[str, Any]] = field(default_factory=list)  # inside a root field: the caller's to place

    def errors_under(self, *path: Any) -> list[dict[str, Any]]:
        """The errors whose path starts with `path` (e.g. "orders", "nodes", 3)."""
        return [e for e in self.errors if list(e.get("path") or [])[:len(path)] == list(path)]


class GraphQLClient:
    def __init__(self, endpoint: str, access_token: str, *, allow_insecure_http: bool = False, timeout: float = 30,
                 backoff: float = 0.5, sleep: Callable[[float], None] = time.sleep):
        redaction.register(access_token)
        self.endpoint = endpoint
        self.http = Client(
            endpoint, what=WHAT, headers={"X-Shopify-Access-Token": access_token},
            allow_insecure_http=allow_insecure_http, timeout=(min(10.0, timeout), timeout), retries=0,
        )
        self.bucket = Bucket()
        self.backoff = backoff
        self.sleep = sleep
        self.throttled = 0  # THROTTLED answers seen (the bench checks the model keeps this near 0)
        self.costs: dict[str, float] = {}  # operation name → last requested cost, for the bucket's wait

    @property
    def calls(self) -> int:
        return self.http.calls

    def query(self, operation: str, document: str, variables: Mapping[str, Any] | None = None,
              *, mutation: bool = False) -> Answer:
        """The `data` of one operation. Raises CostExceeded, GraphQLErrors, AccessDenied,
        CredentialsRejected, RemoteUnavailable (after retries), OutcomeUnknown (mutations)."""
        payload = {"query": document, "operationName": operation, "variables": dict(variables or {})}
        failures = throttled = 0
        while True:
            wait = self.bucket.take(self.costs.get(operation, 0.0))
            if wait:
                self.sleep(wait)
            retry_after = None
            try:
                response = self.http.request("POST", self.endpoint, json=payload)
            except errors.OutcomeUnknown:
                if mutation:
                    raise
                response = None  # a read whose answer broke off: safe to ask again
            except errors.RemoteUnavailable:
                response = None
            if response is not None and response.status_code in (401, 403) and not _graphql_body(response):
                raise errors.CredentialsRejected(redaction.redact(
                    f"Shopify rejected the access token ({response.status_code} {_short_text(response)}): check "
                    "shop.access_token (Settings → Apps and sales channels → Develop apps → your app → API credentials) "
                    "and that the app is still installed"))
            if response is not None and response.status_code == 404:
                raise errors.ConfigError([redaction.redact(
                    f"shop.url / shop.api_version: no GraphQL Admin API at {strip_query(response.url)} (404); check the "
                    "shop's .myshopify.com address and that the API version is one Shopify still supports")])
            if response is not None and response.status_code == 402:
                raise errors.TemporaryFailure("Shopify: the shop is frozen (402 Payment Required): its plan is unpaid")
            transient = response is None or response.status_code == 429 or response.status_code >= 500
            if not transient:
                body = json_body(response, WHAT)
                body = body if isinstance(body, dict) else {}
                cost = (body.get("extensions") or {}).get("cost") or {}
                if isinstance(cost.get("throttleStatus"), dict):
                    self.bucket.observe(cost["throttleStatus"])
                if isinstance(cost.get("requestedQueryCost"), (int, float)):
                    self.costs[operation] = float(cost["requestedQueryCost"])
                codes = _codes(body)
                if "THROTTLED" in codes:
                    self.throttled += 1
                    throttled += 1
                    if throttled > MAX_THROTTLED_WAITS:
                        raise errors.RemoteUnavailable(f"Shopify kept answering THROTTLED ({throttled} times in a row)")
                    self.sleep(_throttle_wait(cost))
                    continue
                if "INTERNAL_SERVER_ERROR" in codes and not mutation:
                    transient = True
                else:
                    return self._answer(operation, body, codes, cost)
            else:
                retry_after = _retry_after(response)
            if mutation and response is not None and response.status_code >= 500:
                raise errors.OutcomeUnknown(f"Shopify answered {response.status_code} to {operation}; whether it was done is unknown")
            failures += 1
            if failures > RETRIES:
                said = "no answer" if response is None else f"HTTP {response.status_code}"
                raise errors.RemoteUnavailable(f"Shopify: {operation} failed {failures} times ({said}); the next run carries on")
            self.sleep(retry_after if retry_after is not None else min(30.0, self.backoff * 2 ** (failures - 1)))

    def _answer(self, operation: str, body: dict[str, Any], codes: tuple[str, ...], cost: Mapping[str, Any]) -> Answer:
        problems = [e for e in body.get("errors") or [] if isinstance(e, dict)] if isinstance(body.get("errors"), list) else []
        if isinstance(body.get("errors"), str):
            raise GraphQLErrors(redaction.redact(f"Shopify: {operation}: {body['errors'][:300]}"), ())
        if "MAX_COST_EXCEEDED" in codes:
            extensions = next(e.get("extensions") or {} for e in problems
                              if (e.get("extensions") or {}).get("code") == "MAX_COST_EXCEEDED")
            raise CostExceeded(int(extensions.get("cost") or 0), int(extensions.get("maxCost") or 1000))
        for search in (body.get("extensions") or {}).get("search") or []:
            warnings = search.get("warnings") if isinstance(search, dict) else None
            if warnings:
                said = "; ".join(f"{w.get('field')}: {w.get('message')}" for w in warnings if isinstance(w, dict))
                # Shopify ignores the field and returns everything: never read that as a filter.
                raise errors.UserError(f"Shopify ignored part of the search {search.get('query')!r} ({said}); "
                                       "iexsync stops rather than read unfiltered orders")
        data = body.get("data")
        if problems and isinstance(data, dict) and all(_inside(e, data) for e in problems):
            # Partial data: an error inside one order (a field the app may not read) is that order's.
            return Answer(data, cost.get("requestedQueryCost"), cost.get("actualQueryCost"), problems)
        if "ACCESS_DENIED" in codes:
            raise AccessDenied(_access_denied(operation, problems))
        if problems:
            raise GraphQLErrors(redaction.redact(f"Shopify: {operation}: " + "; ".join(_describe(e) for e in problems)), codes)
        if not isinstance(data, dict):
            raise GraphQLErrors(f"Shopify: {operation} answered without data", ())
        return Answer(data, cost.get("requestedQueryCost"), cost.get("actualQueryCost"))

    def close(self) -> None:
        self.http.close()


def _graphql_body(response: Any) -> bool:
    """Whether a 401/403 carries GraphQL errors (with a list) rather than the token refusal."""
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("errors"), list) and "data" in body


def _inside(error: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    """An error deeper than a root field whose root still holds data."""
    path = error.get("path")
    return isinstance(path, list) and len(path) > 2 and data.get(path[0]) is not None


def _codes(body: Mapping[str, Any]) -> tuple[str, ...]:
    found = body.get("errors")
    if not isinstance(found, list):
        return ()
    return tuple(str((e.get("extensions") or {}).get("code") or "") for e in found if isinstance(e, dict))


def _throttle_wait(cost: Mapping[str, Any]) -> float:
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0)
    except (TypeError, ValueError):
        return 1.0
    return min(MAX_RETRY_AFTER, max(0.05, missing / rate)) if rate > 0 else 1.0


def _retry_after(response: Any) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After", "")
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return None


def _describe(error: Mapping[str, Any]) -> str:
    """One GraphQL error as the field it is about, the message and the code."""
    path = error.get("path")
    where = ".".join(str(p) for p in path) if isinstance(path, list) and path else ""
    code = (error.get("extensions") or {}).get("code")
    text = str(error.get("message") or "error")[:300]
    return f"{where}: {text}" + (f" ({code})" if code else "") if where else text + (f" ({code})" if code else "")


def _access_denied(operation: str, problems: list[Mapping[str, Any]]) -> str:
    fields = ", ".join(".".join(map(str, e.get("path") or [])) or "?" for e in problems)
    return (f"Shopify denied access to {fields} in {operation} (ACCESS_DENIED): the app lacks a scope; grant it "
            "read_orders, and read_all_orders to read orders older than 60 days (Settings → Apps and sales "
            "channels → Develop apps → your app → Configuration), then reinstall the app")


def _short_text(response: Any) -> str:
    try:
        body = response.json()
        text = body.get("errors") if isinstance(body, dict) else None
    except ValueError:
        text = None
    return str(text or response.reason or "")[:200] if text else json.dumps(response.reason or "")[1:-1]
