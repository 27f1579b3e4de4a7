"""The exchange rate a foreign-currency document carries: the policy, the rate source, the cache.

A document in another currency than the books' (`home_currency`) is booked in the home
currency at some rate, and that rate decides the revenue and VAT on the VAT return. The
default policy, `document_date`, is the one a Danish bookkeeper defends: the European
Central Bank's reference rate of the document's date (the Nationalbank's rates for most
currencies are the ECB's), or, where none is published for that date (weekend, holiday,
before the ECB publishes at about 16:00 CET), the last one published before it (the VAT
directive's art. 91(2): the latest rate published at the time). Cross rates go through the
euro. `accounting_system` sends no rate: the accounting system applies its own (e-conomic:
the rate of the day the draft is made).

The rates come from the ECB's XML feed (`url`, fetched at most once a run and only when a
rate is not known yet). Each rate used is remembered in the log per (home currency,
currency, date), so a document updated later keeps its rate and no run fetches it again.
A rate that cannot be had (the feed unreachable, the currency or the date not in it) is the
order's error naming both, retried on every run: never a silent default.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from iexsync.errors import OrderError

ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist-90d.xml"
ECB_HISTORY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.xml"
POLICIES = ("document_date", "accounting_system")
RATE_PLACES = Decimal("0.0001")  # per 100 units, as the Nationalbank quotes them (746.0400)
FEED_LIFETIME = 3600.0  # seconds a fetched feed (or its failure) is used before it is asked again
_CUBE = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}Cube"

DEFAULTS = {"policy": "document_date", "url": ECB_URL, "history_url": ECB_HISTORY_URL, "home_currency": "DKK"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "default": DEFAULTS,
    "description": "The exchange rate a document in another currency than home_currency carries.",
    "properties": {
        "policy": {"enum": list(POLICIES), "default": DEFAULTS["policy"],
                   "description": "document_date: the ECB reference rate of the document's date (else the last one "
                                  "published before it); accounting_system: no rate is sent, the accounting system "
                                  "applies its own (e-conomic: the day the draft is made)."},
        "url": {"type": "string", "pattern": r"^(https://|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/|$))",
                "default": ECB_URL,
                "description": "The ECB reference rates feed (eurofxref XML), over https (plain http only to this "
                               "machine). The default covers the last 90 days."},
        "history_url": {"type": ["string", "null"],
                        "pattern": r"^(https://|http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?(/|$))",
                        "default": ECB_HISTORY_URL,
                        "description": "The whole history of the same rates, read (once a run) only for a document "
                                       "older than url's first day, as an import of old orders has; null: such a "
                                       "document is an error."},
        "home_currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": DEFAULTS["home_currency"],
                          "description": "The books' own currency (e-conomic: the agreement's base currency). A "
                                         "document in it carries no rate."},
    },
}


class RateMissing(OrderError):
    """No rate for this currency and date (yet): the order waits and is tried on every run."""

    transient = True


@dataclass(frozen=True)
class RatePolicy:
    policy: str = DEFAULTS["policy"]
    url: str = ECB_URL
    home_currency: str = DEFAULTS["home_currency"]
    history_url: str | None = ECB_HISTORY_URL

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> "RatePolicy":
        given = {**DEFAULTS, **(section or {})}
        return cls(given["policy"], given["url"], given["home_currency"].upper(), given["history_url"])


@dataclass(frozen=True)
class Rate:
    """How much `per_100` home currency 100 units of `currency` cost, as published on `day`."""

    currency: str
    home_currency: str
    per_100: Decimal
    day: date

    @property
    def per_unit(self) -> Decimal:
        return self.per_100 / 100


class ExchangeRates:
    """The rate each foreign-currency document carries under `policy`. Thread-safe: orders
    run on threads; the feed is fetched once a run, under a lock."""

    def __init__(self, policy: RatePolicy, memory: Any = None, *, timeout: float = 30.0):
        self.policy = policy
        self.memory = memory  # books.base.Memory: the rates used, kept in the log
        self.timeout = timeout
        # url → (monotonic time fetched, the feed or None, its failure or None): a long-lived process (the
        # webhook worker) fetches again after FEED_LIFETIME; a feed that failed is not asked again before
        self._feeds: dict[str, tuple[float, dict[date, dict[str, Decimal]] | None, RateMissing | None]] = {}
        self._lock = threading.Lock()

    def for_document(self, currency: str, day: date) -> Rate | None:
        """The rate to send with a document in `currency` dated `day`; None: send none (a
        home-currency document, or the accounting system applies its own)."""
        currency = currency.upper()
        if self.policy.policy == "accounting_system" or currency == self.policy.home_currency:
            return None
        return self.rate(currency, day)

    def rate(self, currency: str, day: date) -> Rate:
        key = f"exchange:ecb:{self.policy.home_currency}:{currency}:{day.isoformat()}"
        kept = self.memory.recall(key) if self.memory is not None else None
        if kept:
            published, per_100 = kept.split(" ")
            return Rate(currency, self.policy.home_currency, Decimal(per_100), date.fromisoformat(published))
        rate = self._from_feed(currency, day)
        if self.memory is not None:
            self.memory.remember(key, f"{rate.day.isoformat()} {rate.per_100}")
        return rate

    def _from_feed(self, currency: str, day: date) -> Rate:
        url = self.policy.url
        feed = self._fetched(url, currency, day)
        if feed and day < min(feed) and self.policy.history_url:  # older than the recent rates: the whole history
            url = self.policy.history_url
            feed = self._fetched(url, currency, day)
        home = self.policy.home_currency
        published = max((d for d in feed if d <= day), default=None)
        if published is None:
            oldest = min(feed) if feed else None
            raise RateMissing(
                f"no exchange rate for {currency} on or before {day}: the rates at {url} "
                f"{'start ' + oldest.isoformat() if oldest else 'hold no day'}; set "
                "accounting.exchange_rates.history_url to a feed that reaches back further")
        rates = {"EUR": Decimal(1), **feed[published]}
        for needed in (currency, home):
            if needed not in rates:
                raise RateMissing(f"no exchange rate for {needed} on {published} (for a document dated {day}) at "
                                  f"{url}: the ECB publishes none for it; set "
                                  "accounting.exchange_rates.policy: accounting_system to let the accounting system "
                                  "apply its own")
        # The feed says how many units of each currency one euro buys: home per 100 units is a cross via EUR.
        per_100 = (Decimal(100) * rates[home] / rates[currency]).quantize(RATE_PLACES)
        return Rate(currency, home, per_100, published)

    def _fetched(self, url: str, currency: str, day: date) -> dict[date, dict[str, Decimal]]:
        with self._lock:
            fetched_at, feed, failure = self._feeds.get(url, (None, None, None))
            if fetched_at is None or time.monotonic() - fetched_at > FEED_LIFETIME:
                feed, failure = None, None
                try:
                    feed = self._fetch(url)
                except RateMissing as exc:
                    failure = exc
                self._feeds[url] = (time.monotonic(), feed, failure)
            if feed is None:
                assert failure is not None
                raise RateMissing(f"no exchange rate for {currency} on {day}: {failure}")
            return feed

    def _fetch(self, url: str) -> dict[date, dict[str, Decimal]]:
        from iexsync import http  # requests, only when a foreign-currency document needs a rate

        what = "the exchange rates"
        client = http.Client(url, what=what, headers={"Accept": "application/xml"},
                             timeout=(self.timeout, self.timeout), retries=2)
        try:
            response = client.request("GET", url)
            if response.status_code >= 300:
                raise RateMissing(f"{what}: GET {http.strip_query(url)} answered {response.status_code}")
            return parse_ecb(response.content, what)
        except RateMissing:
            raise
        except OrderError as exc:  # unreachable, timed out: the same wait as a missing rate
            raise RateMissing(str(exc)) from None
        finally:
            client.close()


def parse_ecb(content: bytes, what: str = "the exchange rates") -> dict[date, dict[str, Decimal]]:
    """The ECB eurofxref feed (daily, 90 days or the whole history): day → currency → units per
    euro. (The stdlib parser: expat refuses entity expansion bombs since 2.4.1.)"""
    import xml.etree.ElementTree as ElementTree  # only when a feed is read: idle runs never pay for it

    try:
        root = ElementTree.fromstring(content)
        days: dict[date, dict[str, Decimal]] = {}
        for cube in root.iter(_CUBE):
            if "time" in cube.attrib:
                days[date.fromisoformat(cube.attrib["time"])] = {
                    rate.attrib["currency"].upper(): Decimal(rate.attrib["rate"])
                    for rate in cube if "currency" in rate.attrib}
    except (ElementTree.ParseError, KeyError, ValueError, InvalidOperation) as exc:
        raise RateMissing(f"{what}: the answer is not the ECB's reference rates XML ({exc})") from None
    return days
