"""Which sales account each line goes on. Dinero takes the VAT from the line's account (its
VAT code), so the account must reproduce the VAT the shop charged. The kind of sale is
decided the way e-conomic's VAT zone is, by the VAT actually charged and where the buyer is:
- home-country VAT → domestic: `sales` (or `shipping`/`fees`), a 0 % line `sales_vat_free`;
- no VAT on a home sale → exempt: `sales_vat_free`;
- no VAT, an EU business with a VAT number → eu (reverse charge): `sales_eu`;
- no VAT, a buyer outside the EU → abroad (export): `sales_abroad`;
- an EU consumer charged their own country's VAT → oss: `sales_oss`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from iexsync.books.dinero.config import DineroSettings
from iexsync.books.economic.vat import choose_zone
from iexsync.document import Document, DocumentKind, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import LineKind
from iexsync.money import ZERO

# What each kind of sale needs, for the message when its account is not configured.
_NEEDS = {
    "eu": ("sales_eu", "a sale to an EU business without VAT (reverse charge)",
           "your account for EU sales of goods (an EU-sale VAT code)"),
    "abroad": ("sales_abroad", "a sale outside the EU without VAT (export)",
               "your account for sales outside the EU (no VAT)"),
    "oss": ("sales_oss", "VAT charged to an EU consumer at their own country's rate (One-Stop-Shop)",
            "your OSS sales account (an OSS VAT code)"),
}
_ZONES = {"domestic": 1, "eu": 2, "abroad": 3, "exempt": 4}


@dataclass(frozen=True)
class Treatment:
    kind: str  # domestic | exempt | eu | abroad | oss


def treatment(document: Document, settings: DineroSettings) -> Treatment:
    """The kind of sale, by the country whose VAT was charged (shared with e-conomic's zones)."""
    rules = SimpleNamespace(home_country=settings.home_country, vat_zones=_ZONES, oss_zone=5)
    return Treatment(choose_zone(document, rules).kind)  # type: ignore[arg-type]


def account_for(line: DocumentLine, sale: Treatment, document: Document, settings: DineroSettings, label: str) -> int:
    accounts = settings.accounts
    if _is_rounding(line):
        return int(accounts.get("rounding") or accounts["sales_vat_free"])
    if sale.kind in _NEEDS:
        key, what, hint = _NEEDS[sale.kind]
        account = accounts.get(key)
        if account is None:
            raise MappingError(f"{label}: the order is {what}; set accounting.accounts.{key} to {hint}")
        return int(account)
    if sale.kind == "exempt" or line.vat_rate == ZERO:
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
