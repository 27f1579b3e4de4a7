"""A canonical document → the JSON body of an e-conomic invoice or order draft.

e-conomic takes a unit price with at most two decimals (error E04740) and computes each
line as quantity × unit price; a shop's unit price often has more (3 for 100.00 is
33.3333). So a line whose net cannot be written as quantity × a two-decimal price is
split into two lines of the same product that differ by one cent per unit, which sum to
the shop's net exactly (2 × 33.33 + 1 × 33.34). A fractional quantity that cannot be
split that way becomes one line of quantity 1 whose text names the quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from iexsync.books.economic.customers import street
from iexsync.books.economic.vat import country_name
from iexsync.document import Document, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import Address

CENT = Decimal("0.01")
MAX_REFERENCE = 250  # references.other

# `mappings:` field names → where they go on the draft (both spellings accepted).
FIELD_TARGETS = {
    "heading": ("notes", "heading", 250),
    "notes.heading": ("notes", "heading", 250),
    "text_line1": ("notes", "textLine1", 1000),
    "notes.textLine1": ("notes", "textLine1", 1000),
    "text_line2": ("notes", "textLine2", 1000),
    "notes.textLine2": ("notes", "textLine2", 1000),
    "delivery_terms": ("delivery", "deliveryTerms", 100),
    "delivery.deliveryTerms": ("delivery", "deliveryTerms", 100),
}


@dataclass(frozen=True)
class BodyLine:
    product_number: str
    description: str
    quantity: Decimal
    unit_net_price: Decimal
    label: str  # names the document line in error messages: "line 2 (ABC-1)"


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_net(quantity: Decimal, unit_net_price: Decimal) -> Decimal:
    """How e-conomic totals a line (our assumption, also the fake's): rounded half up to the cent."""
    return money(quantity * unit_net_price)


def exact_lines(line: DocumentLine, product_number: str, label: str) -> list[BodyLine]:
    """Body lines that total exactly `line.net`, with two-decimal unit prices."""
    net = money(line.net)
    quantity = line.quantity
    text = (line.text or product_number)[:2500]
    if quantity != 0 and _scale(quantity) <= 2:
        price = money(net / quantity)
        if line_net(quantity, price) == net:
            return [BodyLine(product_number, text, quantity, price, label)]
        if quantity == quantity.to_integral_value() and quantity > 0:
            units = int(quantity)
            cents = int(net / CENT)
            low = cents // units  # floor, also for negative amounts
            high_units = cents - low * units  # this many units cost one cent more
            parts = [(units - high_units, Decimal(low) * CENT), (high_units, Decimal(low + 1) * CENT)]
            return [BodyLine(product_number, text, Decimal(n), price, label) for n, price in parts if n]
    described = f"{quantity.normalize():f} × {text}"[:2500]
    return [BodyLine(product_number, described, Decimal(1), net, label)]


def reference_text(reference: str) -> str:
    """The reference as stored in references.other; never cut, because find() matches it exactly."""
    if len(reference) > MAX_REFERENCE:
        raise MappingError(f"the reference {reference!r} is longer than e-conomic's {MAX_REFERENCE} characters")
    return reference


def draft_body(
    document: Document,
    *,
    customer_number: int,
    vat_zone: int,
    layout: int,
    payment_terms: int,
    lines: list[BodyLine],
    heading: str,
    negate: bool = False,
    exchange_rate: Decimal | None = None,
) -> dict[str, Any]:
    """The whole draft: POST creates it, PUT replaces it (PUT must carry everything).

    `exchange_rate`: home currency per 100 units of the document's (e-conomic's unit); None
    for a home-currency document or when e-conomic is to apply its own daily rate."""
    customer = document.customer
    billing = customer.billing if _has_address(customer.billing) else customer.shipping
    body: dict[str, Any] = {
        "date": document.date.isoformat(),
        "currency": document.currency,
        **({"exchangeRate": exchange_rate} if exchange_rate is not None else {}),
        "customer": {"customerNumber": customer_number},
        "layout": {"layoutNumber": layout},
        "paymentTerms": {"paymentTermsNumber": payment_terms},
        "recipient": _without_empty(
            {
                "name": (customer.company or customer.name or "Customer")[:250],
                "address": street(billing)[:250],
                "zip": billing.postcode[:50],
                "city": billing.city[:250],
                "country": country_name(billing.country)[:50] if billing.country else "",
                "ean": customer.ean[:13],
                "vatZone": {"vatZoneNumber": vat_zone},
            }
        ),
        "references": {"other": reference_text(document.reference)},
        "notes": {"heading": heading[:250]},
        "lines": [
            {
                "lineNumber": number,
                "sortKey": number,
                "product": {"productNumber": line.product_number},
                "description": line.description,
                "quantity": -line.quantity if negate else line.quantity,
                "unitNetPrice": line.unit_net_price,
            }
            for number, line in enumerate(lines, start=1)
        ],
    }
    delivery = _delivery(customer.shipping)
    if delivery:
        body["delivery"] = delivery
    for name, value in document.fields.items():
        target = FIELD_TARGETS.get(name)
        if target and value:
            section, key, limit = target
            body.setdefault(section, {})[key] = value[:limit]
    return body


def _delivery(address: Address) -> dict[str, Any]:
    if not _has_address(address):
        return {}
    return _without_empty(
        {
            "address": "\n".join(p for p in (address.name, address.company, street(address)) if p)[:255],
            "zip": address.postcode[:30],
            "city": address.city[:50],
            "country": country_name(address.country)[:50] if address.country else "",
        }
    )


def _has_address(address: Address) -> bool:
    return bool(address.street or address.city or address.postcode)


def _without_empty(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in ("", None)}


def _scale(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
