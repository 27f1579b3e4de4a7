"""Which sales account each line goes on. Dinero takes the VAT from the line's account (its
VAT code), so the account must reproduce the VAT the shop charged. The kind of sale is the
core's VAT treatment (`iexsync.vat`, by the country whose VAT was charged), mapped the way
e-conomic maps it to a VAT zone:
- domestic (home VAT) → `sales` (or `shipping`/`fees`), a 0 % line `sales_vat_free`;
- exempt (no VAT on a home sale) → `sales_vat_free`;
- reverse charge (no VAT, an EU business with a valid VAT number) → `sales_eu`;
- export (no VAT, a buyer outside the EU) → `sales_abroad`;
- OSS (an EU consumer charged their own country's VAT) → `oss_accounts.<country>`, else `sales_oss`;
- foreign (a non-EU country's VAT, e.g. Norway's VOEC) → `foreign_vat_accounts.<country>`.
A kind of sale the config has no account for is a MappingError naming country, rate and key.
"""

from __future__ import annotations

from iexsync import vat
from iexsync.books.dinero.config import DineroSettings
from iexsync.document import Document, DocumentKind, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import LineKind
from iexsync.money import ZERO

T = vat.Treatment
# The treatment → the config key that sets its account (named in errors).
ACCOUNT_KEYS = {
    T.REVERSE_CHARGE.value: "accounting.accounts.sales_eu to your account for EU sales (an EU-sale VAT code)",
    T.EXPORT.value: "accounting.accounts.sales_abroad to your account for sales outside the EU (no VAT)",
    T.OSS.value: "accounting.oss_accounts.<country> or accounting.accounts.sales_oss to your OSS sales account",
    T.FOREIGN.value: "accounting.foreign_vat_accounts.<country> to an account for that country's VAT",
}
# Treatments whose every line goes on one account, by the config's choices.
_ONE_ACCOUNT = {T.REVERSE_CHARGE, T.EXPORT, T.OSS, T.FOREIGN}


def treatment(document: Document, settings: DineroSettings) -> vat.VatTreatment:
    return vat.classify(document, settings.home_country)


def account_choices(settings: DineroSettings) -> dict[str, int | None]:
    accounts = settings.accounts
    choices: dict[str, int | None] = {
        T.REVERSE_CHARGE.value: accounts.get("sales_eu"),
        T.EXPORT.value: accounts.get("sales_abroad"),
        T.OSS.value: accounts.get("sales_oss"),
    }
    choices.update({f"oss:{country}": account for country, account in settings.oss_accounts.items()})
    choices.update({f"foreign:{country}": account for country, account in settings.foreign_vat_accounts.items()})
    return choices


def account_for(line: DocumentLine, sale: vat.VatTreatment, document: Document, settings: DineroSettings) -> int:
    accounts = settings.accounts
    if _is_rounding(line):
        return int(accounts.get("rounding") or accounts["sales_vat_free"])
    if line.kind is LineKind.GIFT_CARD:  # a liability, not a sale, whatever the order's VAT treatment
        if not accounts.get("gift_cards"):
            raise MappingError("a gift card was sold: set accounting.accounts.gift_cards to your gift card liability "
                               "account (without VAT), so it is not booked as revenue")
        return int(accounts["gift_cards"])
    if sale.kind in _ONE_ACCOUNT:
        keys = {kind: key.replace("<country>", sale.country) for kind, key in ACCOUNT_KEYS.items()}
        return int(vat.pick(sale, account_choices(settings), keys))
    if sale.kind is T.EXEMPT or line.vat_rate == ZERO:
        return int(accounts["sales_vat_free"])
    if line.kind is LineKind.SHIPPING:
        return int(accounts.get("shipping") or accounts["sales"])
    if line.kind is LineKind.FEE:
        if document.kind is DocumentKind.CREDIT_NOTE and not line.sku:
            return int(accounts.get("refunds") or accounts["sales"])
        return int(accounts.get("fees") or accounts["sales"])
    return int(accounts["sales"])


def _is_rounding(line: DocumentLine) -> bool:
    # The mapping's rounding line: a VAT-free fee without SKU named "Rounding".
    return line.kind is LineKind.FEE and not line.sku and line.vat == ZERO and line.text == "Rounding"
