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

from iexsync import mapping
from iexsync.config import Settings
from iexsync.document import Document, DocumentKind
from iexsync.events import document_name
from iexsync.model import Order, Refund
from iexsync.store import Transfer

NOT_ALLOWED = "Order state not allowed"


class Action(str, enum.Enum):
    """A write to the accounting system."""

    CREATE = "create"
    UPDATE = "update"
    BOOK = "book"
    CREDIT = "credit"


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
              Action.CREDIT: Outcome.CREDITED}


@dataclass(frozen=True)
class Step:
    """One thing to do (or say) about an order."""

    outcome: Outcome  # for actions, the outcome they will have
    message: str  # for actions, "{document}" is filled in with the document made
    action: Action | None = None  # None: only log
    document: Document | None = None
    transfer: Transfer | None = None  # the existing document acted on

    @property
    def acts(self) -> bool:
        return self.action is not None


Refunds = Callable[[], tuple[Refund, ...]]


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
    entry, why = state_match(order.state, rules.allowed_states) if state_match else (order.state, "")
    rule = rules.rule_for(entry) if entry else None
    if rule is None:
        return [Step(Outcome.SKIPPED, f"{NOT_ALLOWED}: {why}" if why else NOT_ALLOWED)]
    known = {transfer.reference: transfer for transfer in transfers}
    kind = DocumentKind(rule.document)
    document = mapping.build_document(settings, order, kind)
    existing = known.get(document.reference)
    steps: list[Step] = []
    if existing is None:
        steps.append(Step(Outcome.TRANSFERRED, "Transferred as {document}", Action.CREATE, document))
    elif not existing.booked:
        if existing.fingerprint != document.fingerprint():
            if rules.update_drafts:
                steps.append(Step(Outcome.UPDATED, "The order changed: {document} updated", Action.UPDATE, document,
                                  existing))
            else:
                steps.append(Step(Outcome.WARNING, f"The order changed after its {document_name(kind)} "
                                  f"{existing.number} was made; update_drafts is off, so it was left as it is"))
    elif money(document) != existing.totals:
        steps.append(Step(Outcome.WARNING, booked_difference(existing, document)))
    if rule.book and kind is DocumentKind.INVOICE and not (existing and existing.booked):
        steps.append(Step(Outcome.BOOKED, "Booked {document}", Action.BOOK, document))
    if rules.refunds == "credit_note" and kind is DocumentKind.INVOICE and order.refunds:
        steps += _credit_steps(order, settings, document, existing, rule.book, known, refunds)
    return steps


def _credit_steps(order: Order, settings: Settings, invoice: Document, existing: Transfer | None, will_book: bool,
                  known: dict[str, Transfer], read_refunds: Refunds) -> list[Step]:
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
        note = mapping.build_credit_note(settings, order, refund, invoice.reference)
        if not _booked(existing) and not will_book:
            steps.append(Step(Outcome.WARNING, f"Refund {refund.refund_id} ({refund.amount} {order.currency}) waits: "
                              "the invoice is not booked yet; it is credited once the invoice is booked"))
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
    return (f"The order's amounts changed after {document_name(existing.kind)} {existing.number} was booked "
            f"({', '.join(parts)} {document.currency}); a booked document is never changed: correct it in the "
            "accounting system (e.g. with a credit note)")


def _booked(transfer: Transfer | None) -> bool:
    return transfer is not None and transfer.booked
