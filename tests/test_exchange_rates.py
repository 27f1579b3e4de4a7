"""Foreign-currency documents carry the exchange rate of their date (issue 11, case 6).

The rate source is the ECB's reference rates feed, served by a fake on loopback in the
feed's own XML shape (tests/fakes/ecb.py); the rates used are kept in the real SQLite log.
For the VAT return: a USD sale dated Saturday 28 November 2026 is booked in DKK at the
rate published on Friday 27 November (the last one before it), whatever day the draft is made.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from iexsync.exchange import ExchangeRates, RateMissing, RatePolicy
from iexsync.store import Store
from tests.conftest import REPO
from tests.fakes.ecb import RATES, FakeEcb
from tests.fakes.economic import FakeEconomic
from tests.fakes.server import FakeServer
from tests.test_dinero_books import STRIPE
from tests.test_dinero_support import dinero, dinero_server  # noqa: F401
from tests.test_economic_support import DEMO_ORDERS, economic_server, fake, write_economic_config  # noqa: F401

D = Decimal

SATURDAY = date(2026, 11, 28)
# Friday's published rates: 7.4590 DKK and 1.0480 USD a euro → 100 USD = 100 × 7.4590 / 1.0480 DKK.
USD_FRIDAY = (Decimal(100) * Decimal("7.4590") / Decimal("1.0480")).quantize(Decimal("0.0001"))


@pytest.fixture
def ecb() -> Iterator[tuple[FakeEcb, FakeServer]]:
    feed = FakeEcb()
    with FakeServer(feed) as server:
        yield feed, server


def rates(server: FakeServer, memory: Any = None, **policy: str) -> ExchangeRates:
    return ExchangeRates(RatePolicy.from_section({"url": f"{server.url}/eurofxref-hist-90d.xml", **policy}), memory)


def test_a_weekend_date_takes_the_last_rate_published_before_it_crossed_via_the_euro(ecb) -> None:
    _, server = ecb
    source = rates(server)
    usd = source.for_document("USD", SATURDAY)
    assert usd is not None and (usd.per_100, usd.day) == (USD_FRIDAY, date(2026, 11, 27)) and usd.per_100 == Decimal("711.7366")
    assert source.for_document("EUR", date(2026, 11, 30)).per_100 == Decimal("745.9800")  # the euro itself: DKK per 100 EUR
    assert source.for_document("DKK", SATURDAY) is None  # a home-currency document carries no rate
    assert source.for_document("JPY", date(2026, 11, 26)).per_100 == Decimal("4.7471")  # 100 × 7.4587 / 157.12
    assert len(server.calls("GET")) == 1  # one fetch for every rate of the run


def test_a_sek_home_currency_crosses_through_the_euro_too(ecb) -> None:
    _, server = ecb
    nok = rates(server, home_currency="SEK").for_document("NOK", date(2026, 11, 30))
    assert nok.per_100 == Decimal("94.1146")  # 100 × 11.0420 / 11.7325


def test_a_rate_is_kept_in_the_log_so_the_next_run_fetches_nothing(ecb, tmp_path: Path) -> None:
    feed, server = ecb
    store = Store(tmp_path / "iexsync.db")
    assert rates(server, store).for_document("USD", SATURDAY).per_100 == USD_FRIDAY
    feed.status = 503  # the next run could not fetch: it needs not
    again = rates(server, store).for_document("USD", SATURDAY)
    assert (again.per_100, again.day) == (USD_FRIDAY, date(2026, 11, 27))
    assert len(server.calls("GET")) == 1


def test_a_document_older_than_the_recent_rates_is_priced_from_the_whole_history_read_once(ecb) -> None:
    _, server = ecb
    history = FakeEcb({"2025-06-30": {"USD": "1.1720", "DKK": "7.4609"}, "2025-06-27": {"USD": "1.1702", "DKK": "7.4603"},
                       **RATES})
    with FakeServer(history) as archive:
        source = rates(server, history_url=f"{archive.url}/eurofxref-hist.xml")
        old = source.for_document("USD", date(2025, 6, 29))  # a Sunday in an import of last year's orders
        assert (old.per_100, old.day) == (Decimal("637.5235"), date(2025, 6, 27))  # 100 × 7.4603 / 1.1702
        assert source.for_document("USD", date(2025, 6, 30)).per_100 == Decimal("636.5956")
        assert source.for_document("USD", SATURDAY).per_100 == USD_FRIDAY  # recent: the 90-day feed, as before
        assert (len(server.calls("GET")), len(archive.calls("GET"))) == (1, 1)  # each feed read once


def test_a_missing_rate_names_currency_and_date_and_is_retried(ecb) -> None:
    feed, server = ecb
    with pytest.raises(RateMissing, match=r"no exchange rate for USD on or before 2026-11-20.*history_url") as exc:
        rates(server, history_url=None).for_document("USD", date(2026, 11, 20))  # before the feed's first day
    assert exc.value.transient
    with pytest.raises(RateMissing, match=r"no exchange rate for XAU on 2026-11-30 .*ECB publishes none"):
        rates(server).for_document("XAU", date(2026, 11, 30))
    feed.status = 503
    with pytest.raises(RateMissing, match=r"no exchange rate for USD on 2026-11-30: .*answered 503"):
        rates(server).for_document("USD", date(2026, 11, 30))


def test_the_accounting_systems_own_rate_sends_none(ecb) -> None:
    _, server = ecb
    assert rates(server, policy="accounting_system").for_document("USD", SATURDAY) is None
    assert server.calls("GET") == []


# --- e-conomic, the whole path ---------------------------------------------------------------------------
def usd_order(folder: Path, number: int = 7001, currency: str = "USD") -> None:
    raw = json.loads((DEMO_ORDERS / "1001.json").read_text())
    raw.update(id=number, number=str(number), currency=currency)
    for key, value in (("created", "10:00"), ("modified", "12:00"), ("paid", "10:05"), ("completed", "12:00")):
        raw[f"date_{key}"] = f"2026-11-28T{value}:00"
        raw[f"date_{key}_gmt"] = f"2026-11-28T{int(value[:2]) - 1:02d}{value[2:]}:00"  # Copenhagen: UTC+1
    (folder / "orders" / f"{number}.json").write_text(json.dumps(raw))


def economic_config(tmp_path: Path, url: str, ecb_url: str, **policy: str) -> Path:
    (tmp_path / "orders").mkdir()
    shutil.copy(DEMO_ORDERS / "1001.json", tmp_path / "orders")  # a DKK order beside it
    usd_order(tmp_path)
    path = write_economic_config(tmp_path, url, {"exchange_rates": {"url": f"{ecb_url}/eurofxref-hist-90d.xml", **policy}})
    return path


def drafts_by_order(fake: FakeEconomic) -> dict[str, dict[str, Any]]:
    posted = [body for call, body in fake.bodies if call == "POST /invoices/drafts"]
    return {body["references"]["other"].split(":")[2]: body for body in posted}


def test_an_economic_usd_invoice_carries_the_rate_of_its_date_and_a_dkk_one_none(
        fake: FakeEconomic, economic_server: FakeServer, ecb, tmp_path: Path, cli) -> None:
    _, server = ecb
    path = economic_config(tmp_path, economic_server.url, server.url)
    result = cli("sync", "--config", path)
    assert result.exit_code == 0, result.output
    drafts = drafts_by_order(fake)
    usd = drafts["7001"]
    assert (usd["currency"], usd["date"], usd["exchangeRate"]) == ("USD", "2026-11-28", USD_FRIDAY)
    assert all("exchangeRate" not in body for number, body in drafts.items() if number != "7001")
    # e-conomic books the USD amounts in DKK at that rate; the USD totals are still the shop's.
    (booked,) = [doc for doc in fake.booked.values() if doc["currency"] == "USD"]
    assert booked["grossAmount"] == Decimal("1646.25")
    assert booked["grossAmountInBaseCurrency"] == (Decimal("1646.25") * USD_FRIDAY / 100).quantize(Decimal("0.01"))
    assert len(server.calls("GET")) == 1


def test_an_unreachable_rate_source_is_the_orders_error_until_it_answers(
        fake: FakeEconomic, economic_server: FakeServer, ecb, tmp_path: Path, cli) -> None:
    feed, server = ecb
    path = economic_config(tmp_path, economic_server.url, server.url)
    feed.status = 503
    result = cli("sync", "--config", path)
    assert result.exit_code == 1
    assert "no exchange rate for USD on 2026-11-28" in result.output
    assert "7001" not in drafts_by_order(fake) and len(drafts_by_order(fake)) > 0  # the others went on
    feed.status = 200
    result = cli("sync", "--config", path)
    assert result.exit_code == 0, result.output
    assert drafts_by_order(fake)["7001"]["exchangeRate"] == USD_FRIDAY


def test_the_accounting_system_policy_lets_economic_apply_its_own_rate(
        fake: FakeEconomic, economic_server: FakeServer, ecb, tmp_path: Path, cli) -> None:
    _, server = ecb
    path = economic_config(tmp_path, economic_server.url, server.url, policy="accounting_system")
    assert cli("sync", "--config", path).exit_code == 0
    assert "exchangeRate" not in drafts_by_order(fake)["7001"]
    assert server.calls("GET") == []


# --- Beancount --------------------------------------------------------------------------------------------
def beancount_config(tmp_path: Path, ecb_url: str, **policy: str) -> Path:
    (tmp_path / "orders").mkdir()
    shutil.copy(DEMO_ORDERS / "1001.json", tmp_path / "orders")
    usd_order(tmp_path)
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"]["path"] = str(tmp_path / "orders")
    tree["accounting"] = {"system": "beancount", "path": str(tmp_path / "ledger.beancount"),
                          "exchange_rates": {"url": f"{ecb_url}/eurofxref-hist-90d.xml", **policy}}
    tree["log"] = {"path": str(tmp_path / "iexsync.db")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return path


def weights(ledger: Path) -> dict[str, dict[str, Decimal]]:
    """Order number → currency → the sum of its receivable postings' weights (what balances count)."""
    from beancount import loader
    from beancount.core import convert, data

    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    found: dict[str, dict[str, Decimal]] = {}
    for entry in entries:
        if isinstance(entry, data.Transaction):
            for posting in entry.postings:
                if posting.account.startswith("Assets:Receivables"):
                    weight = convert.get_weight(posting)
                    found.setdefault(entry.meta["order-number"], {})[weight.currency] = weight.number
    return found


def test_beancount_books_a_usd_invoice_at_the_rate_of_its_date(ecb, tmp_path: Path, cli) -> None:
    _, server = ecb
    path = beancount_config(tmp_path, server.url)
    assert cli("sync", "--config", path).exit_code == 0
    ledger = tmp_path / "ledger.beancount"
    # The receivable of the USD sale is worth 1646.25 USD × 7.117366 DKK in the books; the DKK sale is as it was.
    assert weights(ledger) == {"7001": {"DKK": Decimal("1646.25") * Decimal("7.117366")},
                               "1001": {"DKK": Decimal("1646.25")}}
    text = ledger.read_text()
    assert "  exchange-rate: 711.7366\n" in text and '  exchange-rate-date: "2026-11-27"\n' in text
    assert text.count("USD @ 7.117366 DKK") == text.count(" USD")  # every USD posting carries the rate


def test_beancount_without_a_rate_keeps_the_documents_currency(ecb, tmp_path: Path, cli) -> None:
    _, server = ecb
    path = beancount_config(tmp_path, server.url, policy="accounting_system")
    assert cli("sync", "--config", path).exit_code == 0
    assert weights(tmp_path / "ledger.beancount")["7001"] == {"USD": Decimal("1646.25")}
    assert server.calls("GET") == []


# --- Dinero: it applies its own rate of the document's date; the payment needs ours ---------------------
def test_dinero_registers_a_usd_payment_in_dkk_at_the_rate_of_its_date(ecb, dinero, dinero_server, tmp_path) -> None:
    from dataclasses import replace

    from tests.test_dinero_support import connect as dinero_books, demo_order, invoice, settings_for

    _, server = ecb
    rates_at = {"url": f"{server.url}/eurofxref-hist-90d.xml"}
    settings = settings_for(tmp_path, dinero_server.url)
    document = replace(invoice(settings, demo_order(1001)), currency="USD", date=SATURDAY)
    books = dinero_books(dinero_server, payments=STRIPE, exchange_rates=rates_at)
    booked = books.book(books.create(document), document)
    posted = dinero.received("POST /invoices")[0]
    assert (posted["Currency"], posted["Date"]) == ("USD", "2026-11-28") and "ExchangeRate" not in posted
    [payment] = dinero.payments[booked.remote_id]
    # 1646.25 USD at Friday's 711.7366 DKK per 100 USD reached the deposit account as 11716.96 DKK.
    assert payment["Amount"] == (D("1646.25") * USD_FRIDAY / 100).quantize(D("0.01")) == D("11716.96")
    assert payment["ExchangeRate"] == payment["Amount"] * 100 / D("1646.25")
    assert booked.remarks == ()


def test_dinero_leaves_a_usd_payment_to_the_bookkeeper_without_a_rate_and_says_so(ecb, dinero, dinero_server,
                                                                                   tmp_path) -> None:
    from dataclasses import replace

    from tests.test_dinero_support import connect as dinero_books, demo_order, invoice, settings_for

    _, server = ecb
    settings = settings_for(tmp_path, dinero_server.url)
    document = replace(invoice(settings, demo_order(1001)), currency="USD", date=SATURDAY)
    books = dinero_books(dinero_server, payments=STRIPE, exchange_rates={"policy": "accounting_system"})
    booked = books.book(books.create(document), document)
    assert booked.booked and dinero.payments == {} and server.calls("GET") == []
    assert booked.remarks == ("its payment in USD was not registered (exchange_rates.policy: accounting_system gives "
                              "no rate to register it in DKK at): register it in Dinero at the amount the bank received",)


def test_a_rate_source_over_plain_http_to_another_machine_stops_before_anything_is_written(tmp_path, cli) -> None:
    path = beancount_config(tmp_path, "http://rates.example")
    result = cli("sync", "--config", path)
    assert result.exit_code == 78
    assert "accounting.exchange_rates.url" in result.output
    assert not (tmp_path / "ledger.beancount").exists() and not (tmp_path / "iexsync.db").exists()
