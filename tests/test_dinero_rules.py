"""The Dinero connector's pure rules: which account a line goes on, by the core's VAT
treatment; Dinero's error bodies read into one message. No server here."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from iexsync.books.dinero.config import DineroSettings
from iexsync.books.dinero.errors import describe_rejection
from iexsync.books.dinero.vat import account_for, treatment
from iexsync.document import Document, DocumentKind, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import Address, Customer, LineKind, TaxLine, Totals

D = Decimal
BASE = {"organization_id": "1", "client_id": "c", "client_secret": "ssss", "api_key": "kkkk"}
SETTINGS = DineroSettings.from_section({**BASE, "accounts": {"sales_eu": 1020, "sales_abroad": 1030, "shipping": 1100}})


def document(country: str, *rates: str, vat_number: str = "", taxed_in: str = "", kind: LineKind = LineKind.PRODUCT) -> Document:
    lines = tuple(DocumentLine(kind, "Item", D(1), D(100), D(100), D(rate), D(rate), "SKU") for rate in rates)
    taxes = tuple(TaxLine("1", f"{taxed_in}-VAT-1", taxed_in, D(rate), amount=D(rate)) for rate in rates if D(rate)) if taxed_in else ()
    customer = Customer(name="Buyer", vat_number=vat_number, billing=Address(country=country), shipping=Address(country=country))
    vat = sum((line.vat for line in lines), D(0))
    return Document("ref", DocumentKind.INVOICE, "1", "1", date(2026, 2, 1), "DKK", customer, lines,
                    Totals(D(100) * len(lines), vat, D(100) * len(lines) + vat), tax_lines=taxes)


def accounts(doc: Document, settings: DineroSettings = SETTINGS) -> list[int]:
    sale = treatment(doc, settings)
    return [account_for(line, sale, doc, settings) for line in doc.lines]


@pytest.mark.parametrize(
    ("country", "rates", "vat_number", "expected"),
    [
        ("DK", ["25"], "", [1000]),
        ("DK", ["25", "0"], "", [1000, 1010]),  # a 0 % book beside a 25 % plaid
        ("US", ["25"], "", [1000]),  # charged Danish VAT: domestic, wherever it goes
        ("DE", ["0"], "DE136695976", [1020]),  # an EU business, reverse charge
        ("US", ["0"], "", [1030]),  # export
        ("DK", ["0"], "", [1010]),  # exempt
    ],
)
def test_the_account_follows_the_vat_charged(country: str, rates: list[str], vat_number: str, expected: list[int]) -> None:
    assert accounts(document(country, *rates, vat_number=vat_number)) == expected


def test_taxed_shipping_goes_on_the_shipping_account() -> None:
    assert accounts(document("DK", "25", kind=LineKind.SHIPPING)) == [1100]


def test_oss_and_foreign_vat_need_their_accounts_and_say_which_key() -> None:
    german = document("DE", "19", taxed_in="DE")
    with pytest.raises(MappingError, match=r"VAT at 19 % for DE.*One-Stop-Shop.*accounting.oss_accounts.DE or accounting.accounts.sales_oss"):
        accounts(german)
    with_oss = DineroSettings.from_section({**BASE, "accounts": {"sales_oss": 1040}, "oss_accounts": {"SE": 1041}})
    assert accounts(german, with_oss) == [1040]
    assert accounts(document("SE", "25", taxed_in="SE"), with_oss) == [1041]  # Swedish VAT, not Danish, though both 25 %
    norwegian = document("NO", "25", taxed_in="NO")
    with pytest.raises(MappingError, match="accounting.foreign_vat_accounts.NO"):
        accounts(norwegian)
    assert accounts(norwegian, DineroSettings.from_section({**BASE, "foreign_vat_accounts": {"NO": 1050}})) == [1050]


def test_an_eu_sale_without_vat_and_without_an_account_says_which_key() -> None:
    plain = DineroSettings.from_section(BASE)
    with pytest.raises(MappingError, match="accounting.accounts.sales_eu"):
        accounts(document("DE", "0", vat_number="DE136695976"), plain)


def test_an_error_body_becomes_one_message_per_problem() -> None:
    body = {"code": 42, "message": "Validation failed.", "validationErrors": {
        "ProductLines[1].AccountNumber": "Account 4242 does not exist.", "ContactGuid": "Contact does not exist."}}
    message = describe_rejection(body, "the invoice draft for order 7", 400, ["line 1 (A)", "line 2 (B)"])
    assert message == ("Dinero refused the invoice draft for order 7 (code 42): line 2 (B) AccountNumber: Account 4242 "
                       "does not exist.; check accounting.accounts; ContactGuid: Contact does not exist.; check accounting.contacts")
    deleted = {"code": 65, "message": "Item is deleted", "validationErrors": {"message": "Invalid InvoiceGuid, the invoice is deleted."}}
    assert describe_rejection(deleted, "x", 400) == "Dinero refused x (code 65): Item is deleted; Invalid InvoiceGuid, the invoice is deleted."
    assert describe_rejection(None, "x", 400) == "Dinero refused x (400): no reason given"
