"""The decision for one order: what should happen to it now, as a list of steps.

Pure: it reads the order, the config, the order's transfers (one read of the log, handed
in) and, only when a refund still waits for its credit note, the refunds' lines (through
the `refunds` callable, so an order whose refunds are all credited costs no shop call).
It writes nothing and calls no accounting system; `Engine` carries the steps out, each
write exactly once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from iexsync import mapping, naming
from iexsync.config import Settings
from iexsync.document import Document, DocumentKind
from iexsync.model import Order, Refund
from iexsync.money import ZERO
from iexsync.store import Transfer

NOT_ALLOWED = "Order state not allowed"


class Action(str, enum.Enum):
    """A write to the accounting system."""

    CREATE = "create"
    UPDATE = "update"
    BOOK = "book"
    CREDIT = "credit"
    DELETE = "delete"  # an unbooked document of a cancelled order


class Outcome(str, enum.Enum):
    """What the log says became of an order (store.OUTCOMES)."""

    TRANSFERRED = "transferred"
    UPDATED = "updated"
    BOOKED = "booked"
    CREDITED = "credited"
    SKIPPED = "skipped"
    WARNING = "warning"
    ERROR = "error"


# What each action is logged as when it succeeds.
OUTCOME_OF = {Action.CREATE: Outcome.TRANSFERRED, Action.UPDATE: Outcome.UPDATED, Action.BOOK: Outcome.BOOKED,
              Action.CREDIT: Outcome.CREDITED, Action.DELETE: Outcome.UPDATED}


@dataclass(frozen=True)
class Step:
    """One thing to do (or say) about an order."""

    outcome: Outcome  # for actions, the outcome they will have
    message: str  # for actions, "{document}" is filled in with the document made
    action: Action | None = None  # None: only log
    document: Document | None = None
    transfer: Transfer | None = None  # the existing document acted on (or waited for)
    # Says a refund waits for `transfer` to be booked. The engine first asks the accounting
    # system (a bookkeeper may have booked it by hand), so the message is never false, and
    # keeps the order due, so that each run asks again.
    # (`document`, set on a waiting step, is the credit note to be: it names the invoice.)
    waits: bool = False
    # A create: the reference of the order document the bookkeeper may have converted into
    # this invoice already (e-conomic's order → invoice flow), to be looked for first.
    converted_from: str = ""

    @property
    def acts(self) -> bool:
        return self.action is not None


Refunds = Callable[[], tuple[Refund, ...]]

# In a waiting step's message: the draft waited for, when the same pass makes it.
WAITED_FOR = "{draft}"


StateMatch = Callable[[str, tuple[str, ...]], tuple[str | None, str]]


def decide(order: Order, settings: Settings, transfers: Iterable[Transfer], refunds: Refunds,
           state_match: StateMatch | None = None) -> list[Step]:
    """What should happen to `order` now. `transfers`: the documents the log holds for this
    order; `refunds`: reads the refunds with their lines (called at most once, and only
    when a refund is not credited yet); `state_match`: for a shop whose state has parts
    (Shopify: financial+fulfilment), the allowed entry the state matches, or None and the
    part not allowed. Raises OrderError (MappingError) for an order that cannot become a
    document under this config."""
    rules = settings.transfer
    start = rules.start_date
    if start and order.created.date() < start:
        return [Step(Outcome.SKIPPED, f"Order created {order.created.date()}, before the start date {start}")]
    reason = mapping.skip_reason(settings, order)
    if reason:
        return [Step(Outcome.SKIPPED, f"Skipped by the filter {reason!r}")]
    known = {transfer.reference: transfer for transfer in transfers}
    entry, why = state_match(order.state, rules.allowed_states) if state_match else (order.state, "")
    rule = rules.rule_for(entry) if entry else None
    if rule is None:
        return _outside(order, settings, known, refunds, why)
    kind = DocumentKind(rule.document)
    document = mapping.build_document(settings, order, kind)
    existing = known.get(document.reference)
    steps: list[Step] = []
    if existing is None:
        made_before = known.get(mapping.reference(settings, order, DocumentKind.ORDER))
        converted_from = made_before.reference if kind is DocumentKind.INVOICE and made_before else ""
        steps.append(Step(Outcome.TRANSFERRED, "Transferred as {document}", Action.CREATE, document,
                          converted_from=converted_from))
    elif not existing.booked:
        if existing.fingerprint != document.fingerprint():
            if rules.update_drafts:
                steps.append(Step(Outcome.UPDATED, "The order changed: {document} updated", Action.UPDATE, document,
                                  existing))
            else:
                steps.append(Step(Outcome.WARNING, f"The order changed after its "
                                  f"{naming.document_name(kind, existing.number, False)} was made; update_drafts is off, so it was left as it is"))
    elif money(document) != existing.totals:
        steps.append(Step(Outcome.WARNING, booked_difference(existing, document)))
    if rule.book and kind is DocumentKind.INVOICE and not (existing and existing.booked):
        steps.append(Step(Outcome.BOOKED, "Booked as {document}", Action.BOOK, document))
    if rules.refunds == "credit_note" and kind is DocumentKind.INVOICE and order.refunds:
        steps += _credit_steps(order, settings, document.reference, existing, rule.book, known, refunds)
    return steps


def _outside(order: Order, settings: Settings, known: dict[str, Transfer], refunds: Refunds,
             why: str = "") -> list[Step]:
    """An order in a state that is not transferred. Nothing was transferred: skipped. Its
    documents from an earlier state stay what they are, but its refunds are still credited
    (a fully refunded order is `refunded`), and a cancelled order's documents are deleted
    while unbooked, or the booked invoice is named in a warning (or credited)."""
    rules = settings.transfer
    invoice = known.get(mapping.reference(settings, order, DocumentKind.INVOICE))
    documents = [t for t in (known.get(mapping.reference(settings, order, DocumentKind.ORDER)), invoice) if t]
    if not documents:
        return [Step(Outcome.SKIPPED, f"{NOT_ALLOWED}: {why}" if why else NOT_ALLOWED)]
    steps: list[Step] = []
    # A state with parts (Shopify's paid+fulfilled+cancelled) is cancelled when a part is.
    cancelled = order.state in rules.cancelled_states or any(p in rules.cancelled_states for p in order.state.split("+"))
    if cancelled:
        for transfer in documents:
            if transfer.booked:
                continue
            label = _label(transfer)
            if rules.cancelled_drafts == "delete":
                steps.append(Step(Outcome.UPDATED, f"The order was cancelled: {label} deleted from the accounting "
                                  "system", Action.DELETE, transfer=transfer))
            else:
                steps.append(Step(Outcome.WARNING, f"The order was cancelled; its {label} was kept in the accounting "
                                  "system (transfer.cancelled_drafts: keep): delete it there if the sale is void"))
        if invoice is not None and not invoice.booked and rules.cancelled_drafts == "delete":
            return steps  # the draft goes, and with it anything its refunds would have credited
    if invoice is not None and rules.refunds == "credit_note" and order.refunds:
        steps += _credit_steps(order, settings, invoice.reference, invoice, False, known, refunds)
    if cancelled and invoice is not None and invoice.booked:
        steps += _cancelled_booked(order, settings, invoice, known)
    if not steps:
        kept = " and ".join(_label(t) for t in documents)
        steps.append(Step(Outcome.SKIPPED, f"{NOT_ALLOWED}: {kept}, transferred in an earlier state, stays as it is"))
    return steps


def _cancelled_booked(order: Order, settings: Settings, invoice: Transfer, known: dict[str, Transfer]) -> list[Step]:
    """A booked invoice of a cancelled order: its revenue and VAT stay in the books unless
    credited. What its refunds credit (or will) is not credited twice."""
    refunded = sum((refund.amount for refund in order.refunds), ZERO)
    gross = Decimal(invoice.totals.get("gross", "0"))
    if refunded >= gross:
        return []  # the refunds take it all back
    label = _label(invoice)
    if settings.transfer.cancelled_booked == "warning":
        left = f" ({gross - refunded} {order.currency} of it not refunded)" if refunded else ""
        return [Step(Outcome.WARNING, f"The order was cancelled after {label} was booked; the invoice stays in the "
                     f"books and the VAT return{left}: credit it in the accounting system if the sale is void "
                     "(or set transfer.cancelled_booked: credit_note)")]
    document = mapping.build_document(settings, order, DocumentKind.INVOICE)
    if money(document) != invoice.totals:
        return [Step(Outcome.WARNING, booked_difference(invoice, document) + "; the order was cancelled, so credit "
                     "what is left of it there")]
    note = mapping.build_cancellation(settings, order, document, refunded)
    if note is None or _booked(known.get(note.reference)):
        return []
    return [Step(Outcome.CREDITED, f"The order was cancelled: {label} credited as {{document}}", Action.CREDIT, note)]


def _credit_steps(order: Order, settings: Settings, invoice_reference: str, existing: Transfer | None,
                  will_book: bool, known: dict[str, Transfer], read_refunds: Refunds) -> list[Step]:
    # Credited once, never again: a refund whose credit note is in the log costs nothing,
    # not even reading its lines from the shop.
    waiting = [refund for refund in order.refunds if not _booked(known.get(
        mapping.reference(settings, order, DocumentKind.CREDIT_NOTE, refund.refund_id)))]
    if not waiting:
        return []
    detailed = {refund.refund_id: refund for refund in read_refunds()}
    steps = []
    for summary in waiting:
        refund = detailed.get(summary.refund_id, summary)
        note = mapping.build_credit_note(settings, order, refund, invoice_reference)
        if not _booked(existing) and not will_book:
            # The draft is named; one made by this very pass is named by the engine once it exists.
            draft = _label(existing) if existing else WAITED_FOR
            steps.append(Step(Outcome.WARNING, f"Refund {refund.refund_id} ({refund.amount} {order.currency}) waits: "
                              f"{draft} is not booked in the accounting system (checked now); the refund is "
                              "credited on the first run after it is booked", document=note, transfer=existing,
                              waits=True))
            continue
        steps.append(Step(Outcome.CREDITED, f"Refund {refund.refund_id} credited as {{document}}", Action.CREDIT, note))
    return steps


def money(document: Document) -> dict[str, str]:
    """A document's totals as the log keeps them."""
    totals = document.totals
    return {"net": str(totals.net), "vat": str(totals.vat), "gross": str(totals.gross)}


def booked_difference(existing: Transfer, document: Document) -> str:
    before, now = existing.totals, money(document)
    parts = [f"{key} {before.get(key)} → {now[key]}" for key in ("net", "vat", "gross") if before.get(key) != now[key]]
    return (f"The order's amounts changed after {naming.kind_name(existing.kind, None)} {existing.number} was booked "
            f"({', '.join(parts)} {document.currency}); a booked document is never changed: correct it in the "
            "accounting system (e.g. with a credit note)")


def _booked(transfer: Transfer | None) -> bool:
    return transfer is not None and transfer.booked


def _label(transfer: Transfer) -> str:
    return naming.document_name(transfer.kind, transfer.number, transfer.booked)
