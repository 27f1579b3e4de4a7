"""Canonical order → canonical document: lines, VAT, the totals check, admin templates.

Knows no platform and no accounting system. Every document leaves here summing, to
the cent, to what the shop says the customer paid (or was refunded); where it cannot,
the order gets an error that says by how much and what to look at.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from iexsync.config import Settings
from iexsync.document import Document, DocumentKind, DocumentLine, DocumentRef
from iexsync.errors import Interrupted, MappingError
from iexsync.model import Line, LineKind, Order, Refund, Totals
from iexsync.money import ZERO, round_money


def reference(settings: Settings, order: Order, kind: DocumentKind, refund_id: str = "") -> str:
    """The stable key a document carries; the same order and kind give the same key, always."""
    parts = [settings.transfer.reference_prefix, order.source, order.order_id, kind.value]
    if refund_id:
        parts.append(refund_id)
    return ":".join(parts)


def template_context(order: Order) -> dict[str, Any]:
    return {"order": order, "customer": order.customer, "totals": order.totals()}


def skip_reason(settings: Settings, order: Order) -> str | None:
    """The name of the first filter that says skip, if any."""
    if not settings.filters:
        return None
    from iexsync import templates  # jinja2 only for configs that use it

    context = template_context(order)
    for rule in settings.filters:
        try:
            if templates.evaluate(rule.skip_if, context):
                return rule.name
        except Interrupted:  # SIGTERM while rendering: the run stops, the order is not its error
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside an admin's expression
            raise MappingError(f"the filter {rule.name!r} ({rule.skip_if}) fails on this order: {exc}") from None
    return None


def build_document(settings: Settings, order: Order, kind: DocumentKind) -> Document:
    """The invoice or order document for `order`, checked against the shop's total."""
    if settings.transfer.require_sku:
        for number, line in enumerate(order.lines, start=1):
            if line.kind is LineKind.PRODUCT and not line.sku:
                raise MappingError(
                    f"line {number} {line.text!r} has no SKU; give the product a SKU in the shop "
                    "(or set transfer.require_sku: false)"
                )
    lines, remarks = _reconcile(settings, order, [_document_line(line) for line in order.lines])
    return _document(settings, order, kind, lines, document_date(settings, order), remarks=tuple(remarks))


def build_credit_note(settings: Settings, order: Order, refund: Refund, credits: str) -> Document:
    """The credit note for one refund, against the document referenced by `credits`.

    Amounts are positive: the kind says it is a credit. What the refund gave back is
    credited as what it was: returned products on their products, refunded shipping and
    fees as shipping and fee lines, each at the VAT rate it was charged at (so a
    shipping-only refund takes back the shipping's VAT, not a share of every rate). Only
    what no line accounts for (a goodwill amount) is split over the order's VAT rates in
    proportion to what the order charged at each.
    """
    lines = [_document_line(line) for line in refund.lines]
    returned = sum((line.net + line.vat for line in lines), ZERO)
    rest = refund.amount - returned
    if rest < 0:
        raise MappingError(
            f"refund {refund.refund_id}: its lines add up to {returned} {order.currency}, "
            f"more than the refunded amount {refund.amount}"
        )
    if rest > 0:
        lines += _amount_only(order, rest, f"Refund: {refund.reason}" if refund.reason else "Refund")
    return _document(settings, order, DocumentKind.CREDIT_NOTE, lines, refund.created or order.modified,
                     credits_reference=credits, refund_id=refund.refund_id)


CANCELLED = "cancelled"  # the refund id of the credit note that voids a cancelled order's invoice


def build_cancellation(settings: Settings, order: Order, invoice: Document, refunded: Decimal) -> Document | None:
    """The credit note that voids the booked `invoice` of a cancelled order, less what its
    refunds (`refunded`, VAT included) credit already; None when they credit it all.

    Without refunds it reverses the invoice line for line, so every VAT rate and account
    is taken back exactly; what is left after refunds is split over the order's rates."""
    rest = invoice.totals.gross - refunded
    if rest <= 0:
        return None
    lines = list(invoice.lines) if refunded == 0 else _amount_only(order, rest, "Cancelled")
    return _document(settings, order, DocumentKind.CREDIT_NOTE, lines, order.modified,
                     credits_reference=invoice.reference, refund_id=CANCELLED)


def _document(settings: Settings, order: Order, kind: DocumentKind, lines: list[DocumentLine], when: Any,
              **extra: Any) -> Document:
    return Document(
        reference=reference(settings, order, kind, extra.get("refund_id", "")),
        kind=kind,
        order_id=order.order_id,
        order_number=order.number,
        date=when.date(),  # the shop's own date: `when` carries the shop's offset
        currency=order.currency,
        customer=order.customer,
        lines=tuple(lines),
        totals=_totals(lines, order.currency),
        payment=order.payment,
        fields=_fields(settings, order),
        tax_lines=order.tax_lines,
        tax_basis=order.tax_basis,
        **extra,
    )


def _document_line(line: Line) -> DocumentLine:
    return DocumentLine(
        kind=line.kind, text=line.text, quantity=line.quantity, unit_net=line.unit_net,
        net=line.net, vat=line.vat, vat_rate=line.vat_rate, sku=line.sku,
    )


def _reconcile(settings: Settings, order: Order, lines: list[DocumentLine]) -> tuple[list[DocumentLine], list[str]]:
    """The lines made to equal the shop's totals, and what was done to them, said in words.

    Up to `transfer.rounding_tolerance` apart is rounding and is closed visibly: where the
    shop's own VAT total explains the difference (it rounds tax per order, not per line),
    the VAT of the line carrying the most is corrected, so the books show the VAT the shop
    reports; otherwise a "Rounding" line without VAT takes it. More is an error giving both
    sums. A VAT total that still differs from the shop's is remarked on, never left silent.
    """
    currency = order.currency
    totals = _totals(lines, currency)
    difference = round_money(order.shop_total - totals.gross, currency)
    remarks: list[str] = []
    if abs(difference) > settings.transfer.rounding_tolerance:
        raise MappingError(
            f"the order's lines add up to {totals.gross} {currency} (net {totals.net} + VAT {totals.vat}) but "
            f"the shop's total is {order.shop_total} {currency}, {difference:+} apart; look for a line the shop "
            "did not send (a plugin's fee or discount), or raise transfer.rounding_tolerance if it is rounding"
        )
    taxed = [index for index, line in enumerate(lines) if line.vat]
    if difference and taxed and totals.net + order.shop_total_tax == order.shop_total:
        index = max(taxed, key=lambda i: abs(lines[i].vat))
        corrected = replace(lines[index], vat=lines[index].vat + difference)
        lines = [*lines[:index], corrected, *lines[index + 1:]]
        remarks.append(f"the VAT of line {index + 1} ({lines[index].text}) corrected by {difference:+} {currency} to "
                       f"the shop's VAT total {order.shop_total_tax} (the shop rounds VAT per order)")
    elif difference:
        lines = [*lines, DocumentLine(kind=LineKind.FEE, text=ROUNDING_TEXT, quantity=Decimal(1), unit_net=difference,
                                      net=difference, vat=ZERO, vat_rate=ZERO, sku="")]
        remarks.append(f"a rounding line of {difference:+} {currency} makes the document the shop's total "
                       f"{order.shop_total}")
    vat_now = _totals(lines, currency).vat
    if vat_now != order.shop_total_tax:
        remarks.append(f"its VAT is {vat_now} {currency}, the shop's VAT total {order.shop_total_tax} "
                       f"({round_money(vat_now - order.shop_total_tax, currency):+})")
    return lines, remarks


ROUNDING_TEXT = "Rounding"

# transfer.document_date → the order's dates tried, in order (the first it has is the date).
DOCUMENT_DATES = {
    "completed": ("completed", "paid", "created"),  # invoicing at delivery; not delivered yet: paid, else created
    "paid": ("paid", "created"),
    "created": ("created",),
    "transferred": (),  # the day iexsync writes (or updates) the document
}


def document_date(settings: Settings, order: Order) -> Any:
    """When an invoice or order document is dated, by `transfer.document_date`, as an aware
    time in the shop's offset (its date is the shop's date: 00:30 in Copenhagen on 1 July is
    1 July). `transferred` is now, in the offset of the order's last change."""
    for name in DOCUMENT_DATES[settings.transfer.document_date]:
        moment = getattr(order, name)
        if moment is not None:
            return moment
    from iexsync.timeutil import utc_now

    return utc_now().astimezone(order.modified.tzinfo)


def remarks_text(document: Document, ref: DocumentRef | None, action: Any) -> str:
    """The document's and the accounting system's remarks, for the event that writes it:
    '; a rounding line of +0.05 DKK …'. A booking repeats none of the document's."""
    said = [] if str(getattr(action, "value", action)) == "book" else list(document.remarks)
    said += list(ref.remarks) if ref is not None else []
    return "".join(f"; {remark}" for remark in said)


def _amount_only(order: Order, amount: Decimal, text: str) -> list[DocumentLine]:
    """`amount` (VAT included) split over the order's VAT rates by their share of its gross."""
    by_rate: dict[Decimal, Decimal] = {}
    for line in order.lines:
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, ZERO) + line.gross
    gross = sum(by_rate.values(), ZERO)
    rates = sorted((r for r, g in by_rate.items() if g > 0), reverse=True) or [ZERO]
    lines, left = [], amount
    for index, rate in enumerate(rates):
        last = index == len(rates) - 1
        part = left if last else round_money(amount * by_rate[rate] / gross, order.currency)
        left -= part
        vat = round_money(part * rate / (100 + rate), order.currency)
        net = part - vat
        lines.append(
            DocumentLine(
                kind=LineKind.REFUND, text=text if len(rates) == 1 else f"{text} ({rate.normalize():f}% VAT)",
                quantity=Decimal(1), unit_net=net, net=net, vat=vat, vat_rate=rate, sku="",
            )
        )
    return lines


def _totals(lines: list[DocumentLine], currency: str) -> Totals:
    net = sum((line.net for line in lines), ZERO)
    vat = sum((line.vat for line in lines), ZERO)
    return Totals(round_money(net, currency), round_money(vat, currency), round_money(net + vat, currency))


def _fields(settings: Settings, order: Order) -> dict[str, str]:
    if not settings.mappings:
        return {}
    from iexsync import templates

    context = template_context(order)
    fields = {}
    for name, source in settings.mappings.items():
        try:
            fields[name] = templates.render(source, context)
        except Interrupted:  # SIGTERM while rendering: the run stops, the order is not its error
            raise
        except Exception as exc:  # noqa: BLE001 - any failure inside an admin's template
            raise MappingError(f"the mapping {name!r} ({source}) fails on this order: {exc}") from None
    return fields
