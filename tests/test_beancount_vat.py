"""Beancount books a bookkeeper can file from (issue 11): each VAT treatment on its own
accounts, totals as numbers, `open` directives never after the entries that use them.

WooCommerce-shaped orders (tests/woo_orders.py) from a folder, synced by the real CLI into
the ledger, read back by Beancount's own loader.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import yaml

from tests.conftest import REPO, bean_check
from tests.woo_orders import Item, woo_order

D = Decimal
LAMP = [Item("Lampe Nord", "LAMP-1", 2, D("400.00"))]
UNTAXED = [Item("Lampe Nord", "LAMP-1", 2, D("400.00"), rate=D(0))]


def sync(tmp_path: Path, cli, orders: list[dict]) -> tuple[int, str, Path]:
    folder = tmp_path / "orders"
    folder.mkdir()
    for raw in orders:
        (folder / f"{raw['id']}.json").write_text(json.dumps(raw))
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "file", "path": str(folder)}
    tree["accounting"] = {"system": "beancount", "path": str(tmp_path / "ledger.beancount")}
    tree["transfer"].update(start_date="1999-01-01")
    tree["log"] = {"path": str(tmp_path / "iexsync.db")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    result = cli("sync", "--config", path, "--verbose")
    return result.exit_code, " ".join(result.output.split()), tmp_path / "ledger.beancount"


def postings(ledger: Path) -> dict[str, dict[str, Decimal]]:
    from beancount import loader
    from beancount.core import data

    entries, errors, _ = loader.load_file(str(ledger))
    assert errors == []
    return {entry.meta["order-number"]: {p.account: p.units.number for p in entry.postings}
            for entry in entries if isinstance(entry, data.Transaction)}


def test_each_vat_treatment_books_on_its_own_accounts(tmp_path, cli) -> None:
    code, output, ledger = sync(tmp_path, cli, [
        woo_order(801, LAMP, shipping=None),  # Danish VAT
        woo_order(802, UNTAXED, billing_country="DK", shipping=None),  # a VAT-free home sale
        woo_order(803, UNTAXED, billing_country="DE", vat_number="DE123456788", company="Nordwind GmbH", shipping=None),
        woo_order(804, UNTAXED, billing_country="US", shipping=None),  # an export
        woo_order(805, LAMP, rate_code="SE-MOMS-1", billing_country="SE", shipping=None),  # OSS: Swedish VAT
    ])
    assert code == 0, output
    booked = postings(ledger)
    assert booked["801"] == {"Assets:Receivables:Customers": D("1000.00"), "Income:Sales:Vat25": D("-800.00"),
                             "Liabilities:VAT:Output:Vat25": D("-200.00")}
    assert booked["802"] == {"Assets:Receivables:Customers": D("800.00"), "Income:Sales:Vat0": D("-800.00")}
    assert booked["803"] == {"Assets:Receivables:Customers": D("800.00"), "Income:Sales:EU-Reverse-Charge": D("-800.00")}
    assert booked["804"] == {"Assets:Receivables:Customers": D("800.00"), "Income:Sales:Export": D("-800.00")}
    assert booked["805"] == {"Assets:Receivables:Customers": D("1000.00"), "Income:Sales:OSS:SE:Vat25": D("-800.00"),
                             "Liabilities:VAT:Output:OSS:SE:Vat25": D("-200.00")}


def test_totals_are_numbers_and_accounts_open_before_their_first_entry(tmp_path, cli) -> None:
    old = datetime(1999, 6, 1, 10, 0, tzinfo=timezone.utc)  # before the default open_date 2000-01-01
    code, output, ledger = sync(tmp_path, cli, [woo_order(811, LAMP, created=old, paid=old, completed=old, shipping=None)])
    assert code == 0, output
    assert bean_check(ledger) == []  # an account opened after its entry would fail here
    from beancount import loader
    from beancount.core import data

    entries, _, _ = loader.load_file(str(ledger))
    invoice = next(e for e in entries if isinstance(e, data.Transaction))
    assert (invoice.meta["net"], invoice.meta["vat"], invoice.meta["gross"]) == (D("800.00"), D("200.00"), D("1000.00"))
    assert all(isinstance(invoice.meta[key], Decimal) for key in ("net", "vat", "gross"))  # bean-query can sum them
    assert (invoice.meta["vat-treatment"], invoice.meta["vat-country"]) == ("domestic", "DK")
    opens = [e for e in entries if isinstance(e, data.Open)]
    assert opens and all(o.date <= invoice.date for o in opens)
