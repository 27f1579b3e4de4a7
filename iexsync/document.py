"""The canonical document: what the mapping makes of an order and every books connector writes.

A document carries a stable `reference` (derived from the shop and the order id) that the
books connector stores on the remote document in a searchable field: that is how an
interrupted run finds out whether its write landed.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from iexsync.model import Customer, LineKind, Payment, TaxLine, Totals


class DocumentKind(str, enum.Enum):
    INVOICE = "invoice"
    ORDER = "order"
    CREDIT_NOTE = "credit_note"


@dataclass(frozen=True)
class DocumentLine:
    kind: LineKind
    text: str
    quantity: Decimal
    unit_net: Decimal
    net: Decimal
    vat: Decimal
    vat_rate: Decimal
    sku: str = ""


@dataclass(frozen=True)
class Document:
    reference: str
    kind: DocumentKind
    order_id: str
    order_number: str
    date: date
    currency: str
    customer: Customer
    lines: tuple[DocumentLine, ...]
    totals: Totals
    payment: Payment = field(default_factory=Payment)
    fields: dict[str, str] = field(default_factory=dict)  # from `mappings:` templates
    credits_reference: str = ""  # a credit note: the reference of the document it credits
    refund_id: str = ""
    # The order's taxes (whose VAT, at what rate) and the address it was taxed by: what
    # `iexsync.vat.classify` reads. A credit note carries its order's, so it is booked alike.
    tax_lines: tuple[TaxLine, ...] = ()
    tax_basis: str = "shipping"

    def fingerprint(self) -> str:
        """What the document carries, hashed: a change means the remote draft is out of date."""
        return hashlib.sha256(canonical_json(asdict(self)).encode()).hexdigest()[:32]

    def to_json(self) -> dict[str, Any]:
        return json.loads(canonical_json(asdict(self)))


@dataclass(frozen=True)
class DocumentRef:
    """Where a document lives in the accounting system and what state it is in there."""

    reference: str
    kind: DocumentKind
    number: str  # the number people see (invoice number, draft number)
    remote_id: str = ""  # the id the API uses, if it differs from the number
    booked: bool = False
    totals: Totals | None = None


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_encode, separators=(",", ":"))


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date,)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__}")
