"""`iexsync sync` end to end with shop.platform shopify: the captured orders through the fake
Shopify into Beancount and e-conomic, to the cent; states; refunds as credit notes."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, bean_check, ledger_entries
from tests.fakes.economic import FakeEconomic
from tests.fakes.shopify import TOKEN, ShopifyServer, skip_reason
from tests.test_economic_support import economic_server, plug, section  # noqa: F401
from tests.test_shopify_pull import fake, server  # noqa: F401  (the fake Shopify, one server a module)

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
ENV = {"SHOPIFY_ACCESS_TOKEN": TOKEN}


def config(folder: Path, server: ShopifyServer, transfer: dict | None = None, accounting: dict | None = None, **shop) -> Path:
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "shopify", "url": server.url, "access_token": "${SHOPIFY_ACCESS_TOKEN}", **shop}
    tree["transfer"] = {"allowed_states": ["paid", "partially_refunded"], "document": "invoice", "book": True,
                        "require_sku": True, **(transfer or {})}
    if accounting:
        tree["accounting"] = accounting
    # The captured shops sell in CAD and USD: their documents keep that currency without a
    # rate (tests/test_exchange_rates.py covers the rates), so no rate source is asked.
    tree["accounting"].setdefault("exchange_rates", {"policy": "accounting_system"})
    tree["log"] = {"path": str(folder / "iexsync.db")}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def ledger_totals(path: Path) -> dict[str, str]:
    """iexsync-ref → the receivable posting of that entry ("31.90 CAD")."""
    found, ref = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("  iexsync-ref:"):
            ref = line.split('"')[1]
        match = re.match(r"\s+Assets:Receivables:Customers\s+(-?[\d.]+ [A-Z]{3})", line)
        if match and ref:
            found[ref] = match.group(1)
    return found


def test_the_captured_orders_go_into_beancount_to_the_cent(tmp_path, fake, server, cli) -> None:
    ids = fake.load_vendor_examples()
    path = config(tmp_path, server)
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert result.exit_code == 0, result.output
    ledger = tmp_path / "books" / "ledger.beancount"
    assert bean_check(ledger) == []
    assert ledger_totals(ledger) == {
        f"iexsync:shopify:{ids['paidTaxShipping']}:invoice": "31.90 CAD",
        f"iexsync:shopify:{ids['presentmentMoney']}:invoice": "10.00 CAD",
    }
    # The others are skipped, naming the part of the state that is not allowed.
    assert "Order state not allowed: financial status none" in result.output
    assert "Order state not allowed: financial status authorized" in result.output
    assert TOKEN not in result.output

    again = cli("sync", "--config", path, env=ENV)
    assert again.exit_code == 0 and sorted(ledger_entries(ledger)) == sorted(ledger_totals(ledger))


def test_presentment_currency_books_what_the_buyer_paid(tmp_path, fake, server, cli) -> None:
    ids = fake.load_vendor_examples()
    fake.pay(ids["moneyBag"])
    path = config(tmp_path, server, currency="presentment")
    result = cli("sync", "--config", path, env=ENV)
    assert result.exit_code == 0, result.output
    totals = ledger_totals(tmp_path / "books" / "ledger.beancount")
    assert totals[f"iexsync:shopify:{ids['presentmentMoney']}:invoice"] == "7.00 USD"
    assert totals[f"iexsync:shopify:{ids['moneyBag']}:invoice"] == "9.00 USD"
    assert bean_check(tmp_path / "books" / "ledger.beancount") == []


def test_a_refund_becomes_a_credit_note_with_its_shipping(tmp_path, fake, server, cli) -> None:
    ids = fake.load_vendor_examples()
    path = config(tmp_path, server)
    assert cli("sync", "--config", path, env=ENV).exit_code == 0
    fake.tick()
    refund_id = fake.refund(ids["paidTaxShipping"], lines={0: 1}, shipping="5.00")
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert result.exit_code == 0, result.output
    totals = ledger_totals(tmp_path / "books" / "ledger.beancount")
    assert totals[f"iexsync:shopify:{ids['paidTaxShipping']}:credit_note:{refund_id}"] == "-18.70 CAD"


def test_allowed_states_name_a_pair_and_the_skip_names_the_missing_part(tmp_path, fake, server, cli) -> None:
    ids = fake.load_vendor_examples()
    path = config(tmp_path, server, transfer={"allowed_states": ["paid+fulfilled"]})
    first = cli("sync", "--config", path, "--verbose", env=ENV)
    assert "Order state not allowed: fulfilment status unfulfilled" in first.output
    assert ledger_entries(tmp_path / "books" / "ledger.beancount") == []
    fake.tick()
    fake.fulfil(ids["paidTaxShipping"])
    second = cli("sync", "--config", path, env=ENV)
    assert second.exit_code == 0
    assert ledger_entries(tmp_path / "books" / "ledger.beancount") == [f"iexsync:shopify:{ids['paidTaxShipping']}:invoice"]


def test_a_fulfilment_state_alone_is_allowed_and_cancelled_needs_naming(tmp_path, fake, server, cli) -> None:
    ids = fake.load_vendor_examples()
    fake.fulfil(ids["pendingNoTax"])
    fake.fulfil(ids["fixedDiscount"])
    fake.cancel(ids["fixedDiscount"])
    path = config(tmp_path, server, transfer={"allowed_states": ["fulfilled"]})
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert ledger_entries(tmp_path / "books" / "ledger.beancount") == [f"iexsync:shopify:{ids['pendingNoTax']}:invoice"]
    assert "Order state not allowed: the order is cancelled" in result.output


def test_states_lists_financial_and_fulfilment_states_with_counts(tmp_path, fake, server, cli) -> None:
    fake.load_vendor_examples()
    path = config(tmp_path, server)
    result = cli("states", "--config", path, env=ENV)
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines() if line.strip()}
    assert rows["paid"][:2] == ["2", "yes"] and rows["authorized"][:2] == ["1", "no"]
    assert rows["unfulfilled"][:2] == ["6", "no"] and rows["partially_refunded"][:2] == ["0", "yes"]


def test_the_captured_orders_go_into_e_conomic_to_the_cent(tmp_path, fake, server, economic_server, cli) -> None:
    # The captured shop sells in Canadian dollars, its taxable goods at 10 %: an agreement set up for that.
    books = plug(economic_server, FakeEconomic(group_rates={1: Decimal(10), 2: Decimal(0)}))
    books.currencies["CAD"] = Decimal("490.00")
    ids = fake.load_vendor_examples()
    fake.pay(ids["fixedDiscount"])
    path = config(tmp_path, server, accounting=section(economic_server.url, home_country="CA"))
    result = cli("sync", "--config", path, "--verbose", env=ENV)
    assert result.exit_code == 0, result.output
    gross = {d["references"]["other"]: d["grossAmount"] for d in books.booked.values()}
    assert gross == {
        f"iexsync:shopify:{ids['paidTaxShipping']}:invoice": Decimal("31.90"),
        f"iexsync:shopify:{ids['presentmentMoney']}:invoice": Decimal("10.00"),
        f"iexsync:shopify:{ids['fixedDiscount']}:invoice": Decimal("29.00"),
    }
    vat = {d["references"]["other"]: d["vatAmount"] for d in books.booked.values()}
    assert vat[f"iexsync:shopify:{ids['paidTaxShipping']}:invoice"] == Decimal("2.90")
