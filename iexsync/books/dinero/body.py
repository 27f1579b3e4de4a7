"""A canonical document → the JSON body of a Dinero invoice or credit note.

Lines carry the shop's net unit prices with two decimals (a price with more is split into
two lines a cent apart, as for e-conomic, so the lines total the shop's net exactly), on the
account whose VAT code matches what the shop charged. Dinero computes the VAT itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from iexsync.books.dinero.config import PaymentRule
from iexsync.books.economic.body import exact_lines
from iexsync.document import Document, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import LineKind

MAX_REFERENCE = 128  # ExternalReference
UNITS = {LineKind.SHIPPING: "shipment"}


@dataclass(frozen=True)
class BodyLine:
    account: int
    description: str
    quantity: Decimal
    price: Decimal
    unit: str
    label: str  # names the document line in error messages: "line 2 (MUG-1)"
    product_guid: str = ""


def body_lines(line: DocumentLine, account: int, label: str, product_guid: str = "") -> list[BodyLine]:
    """Lines that total exactly `line.net`, with two-decimal unit prices."""
    unit = UNITS.get(line.kind, "parts")
    return [BodyLine(account, part.description, part.quantity, part.unit_net_price, unit, label, product_guid)
            for part in exact_lines(line, line.sku, label)]


def external_reference(reference: str) -> str:
    """The reference as stored in ExternalReference; never cut, because find() matches it exactly."""
    if len(reference) > MAX_REFERENCE:
        raise MappingError(f"the reference {reference!r} is longer than Dinero's {MAX_REFERENCE} characters; "
                           "shorten transfer.reference_prefix")
    return reference


def document_body(document: Document, *, guid: str, contact_guid: str, lines: list[BodyLine], description: str,
                  language: str, payment: PaymentRule | None = None, credit_note_for: str = "") -> dict[str, Any]:
    """The whole document: POST creates it, PUT (with a Timestamp) replaces it."""
    body: dict[str, Any] = {
        "Guid": guid,
        "ContactGuid": contact_guid,
        "Currency": document.currency,
        "Language": language,
        "ExternalReference": external_reference(document.reference),
        "Description": description[:250],
        "Date": document.date.isoformat(),
    }
    if credit_note_for:
        body["CreditNoteFor"] = credit_note_for
    if payment is not None:
        body["PaymentConditionType"] = payment.condition
        if payment.condition in ("Netto", "CurrentMonthOut") and payment.days is not None:
            body["PaymentConditionNumberOfDays"] = payment.days
    comment = document.fields.get("comment")
    if comment:
        body["Comment"] = comment
    body["ShowLinesInclVat"] = False
    body["ProductLines"] = [_line(line) for line in lines]
    return body


def _line(line: BodyLine) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if line.product_guid:
        body["ProductGuid"] = line.product_guid  # its text comes from the product
    else:
        body["Description"] = line.description or "-"
    body.update(Quantity=line.quantity, AccountNumber=line.account, Unit=line.unit, Discount=Decimal(0),
                LineType="Product", BaseAmountValue=line.price)
    return body
