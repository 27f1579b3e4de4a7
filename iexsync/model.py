"""The canonical order: what every shop connector produces and the mapping consumes.

Money is Decimal in the order's currency, rounded by its rules; times are timezone-aware.
Totals are derived from the lines and compared with the shop's own (`shop_total`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from iexsync.money import ZERO, round_money


class LineKind(str, enum.Enum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    FEE = "fee"
    DISCOUNT = "discount"
    REFUND = "refund"  # on a credit note: the part of a refund no line of it accounts for
    # A gift card sold: money taken for a sale still to come, so a liability, not revenue, and no
    # VAT until it is used (the sale it pays for carries the VAT).
    GIFT_CARD = "gift_card"


@dataclass(frozen=True)
class Address:
    name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    city: str = ""
    postcode: str = ""
    state: str = ""
    country: str = ""  # ISO 3166-1 alpha-2, upper case


@dataclass(frozen=True)
class Customer:
    name: str
    email: str = ""
    company: str = ""
    phone: str = ""
    vat_number: str = ""
    ean: str = ""
    shop_customer_id: str = ""  # empty for a guest
    billing: Address = field(default_factory=Address)
    shipping: Address = field(default_factory=Address)

    @property
    def is_business(self) -> bool:
        return bool(self.company or self.vat_number)


@dataclass(frozen=True)
class Line:
    kind: LineKind
    text: str
    quantity: Decimal
    unit_net: Decimal  # per unit, before VAT; may have more decimals than the currency
    net: Decimal  # the line's total before VAT, as the shop reports it
    vat: Decimal  # the VAT on the line, as the shop reports it
    vat_rate: Decimal  # percent, e.g. Decimal("25")
    sku: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class TaxLine:
    """One tax the shop charged on the order: whose VAT it is, at what rate, how much.

    `country` is the country whose VAT was charged (ISO code), as the shop's rate says
    it (WooCommerce: the first part of `rate_code`, e.g. SE of `SE-MOMS-1`); empty when
    the shop's rate applies to every country and so does not say.
    """

    rate_id: str
    rate_code: str = ""  # the shop's own name for the rate, e.g. "SE-MOMS-1"
    country: str = ""
    rate: Decimal | None = None  # percent; None where the shop does not say
    label: str = ""
    amount: Decimal = ZERO  # the tax on items, shipping and fees together


# How the shop chose the address it taxes by (WooCommerce: "Calculate tax based on").
TAX_BASES = ("shipping", "billing", "base")


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount: Decimal  # positive: what was given back, VAT included
    reason: str = ""
    created: datetime | None = None
    # What the refund gave back, amounts positive: returned products (kind PRODUCT), shipping
    # (SHIPPING) and fees (FEE), each at the VAT rate the order charged on it. Whatever of
    # `amount` they do not account for is credited split over the order's VAT rates.
    lines: tuple[Line, ...] = ()


@dataclass(frozen=True)
class Payment:
    method_id: str = ""
    title: str = ""
    transaction_id: str = ""


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class Order:
    order_id: str
    number: str
    state: str
    currency: str
    created: datetime
    modified: datetime
    customer: Customer
    lines: tuple[Line, ...]
    shop_total: Decimal  # what the shop says the customer pays, VAT included
    shop_total_tax: Decimal
    prices_include_tax: bool = False
    paid: datetime | None = None
    payment: Payment = field(default_factory=Payment)
    customer_note: str = ""
    custom_fields: dict[str, Any] = field(default_factory=dict)
    refunds: tuple[Refund, ...] = ()
    tax_lines: tuple[TaxLine, ...] = ()
    tax_basis: str = "shipping"  # one of TAX_BASES: the address the shop taxes by
    completed: datetime | None = None  # when the order was completed (delivered), in the shop's offset
    source: str = ""  # the shop's name for where it came from, e.g. "woocommerce"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def totals(self) -> Totals:
        net = sum((line.net for line in self.lines), ZERO)
        vat = sum((line.vat for line in self.lines), ZERO)
        return Totals(
            net=round_money(net, self.currency),
            vat=round_money(vat, self.currency),
            gross=round_money(net + vat, self.currency),
        )

    def vat_rates(self) -> set[Decimal]:
        return {line.vat_rate for line in self.lines}
