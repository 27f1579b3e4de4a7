"""The pure planner, table-driven: state × the order's transfers in the log × refunds → steps.

No server, no log, no ledger: `planner.decide` reads the order, the config and the
transfers it is handed, so each row runs in about a millisecond. Orders are the demo's
WooCommerce JSON through the real reader; settings go through the real config loader.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from iexsync import config, mapping
from iexsync.document import DocumentKind
from iexsync.model import LineKind, Order, Refund
from iexsync.planner import NOT_ALLOWED, Action, Outcome, Step, decide, money
from iexsync.shops.woocommerce.order import parse_order
from iexsync.store import Transfer
from tests.conftest import EXAMPLES

INVOICE, ORDER, CREDIT = DocumentKind.INVOICE, DocumentKind.ORDER, DocumentKind.CREDIT_NOTE
_SETTINGS: dict[str, config.Settings] = {}
_FOLDER = Path(tempfile.mkdtemp(prefix="iexsync-planner-"))


def settings(**transfer: Any) -> config.Settings:
    """The demo's rules (processing → order, completed → booked invoice) with `transfer` overrides."""
    key = json.dumps(transfer, sort_keys=True, default=str)
    if key not in _SETTINGS:
        tree = {
            "shop": {"platform": "file", "path": str(EXAMPLES)},
            "accounting": {"system": "beancount", "path": "ledger.beancount"},
            "transfer": {
                "allowed_states": ["processing", "completed"],
                "per_state": {"processing": {"document": "order"}, "completed": {"document": "invoice", "book": True}},
                "start_date": "2026-01-01",
                **transfer,
            },
        }
        path = _FOLDER / f"config-{len(_SETTINGS)}.yaml"
        path.write_text(yaml.safe_dump(tree))
        _SETTINGS[key] = config.load(path)
    return _SETTINGS[key]


def order(number: str = "1006", **changes: Any) -> Order:
    raw = copy.deepcopy(json.loads((EXAMPLES / f"{number}.json").read_text()))
    raw.update(changes)
    return parse_order(raw)


def transfer(rules: config.Settings, of: Order, kind: DocumentKind, *, booked: bool, refund_id: str = "",
             changed: bool = False) -> Transfer:
    """A transfer as the log would hold it after writing the document the order makes now
    (`changed`: made from an earlier version of the order)."""
    if kind is CREDIT:
        refund = next(r for r in of.refunds if r.refund_id == refund_id)
        document = mapping.build_credit_note(rules, of, refund, mapping.reference(rules, of, INVOICE))
    else:
        document = mapping.build_document(rules, of, kind)
    totals = money(document)
    if changed:
        totals = {**totals, "gross": "1.00"}
    return Transfer(
        reference=document.reference, order_id=of.order_id, order_number=of.number, kind=kind, number="7",
        remote_id="", booked=booked, fingerprint="older" if changed else document.fingerprint(), totals=totals,
        refund_id=refund_id,
    )


class Reads:
    """The refunds callable, counting how often the planner asked the shop."""

    def __init__(self, of: Order):
        self.of, self.calls = of, 0

    def __call__(self) -> tuple[Refund, ...]:
        self.calls += 1
        return self.of.refunds


def summary(steps: list[Step]) -> list[tuple[str, str, str]]:
    """(outcome, action, document kind) per step: what the table compares."""
    def kind(step: Step) -> str:
        if not step.action:
            return ""
        return (step.document.kind if step.document else step.transfer.kind).value  # type: ignore[union-attr]

    return [(step.outcome.value, step.action.value if step.action else "", kind(step)) for step in steps]


TRANSFERRED = ("transferred", "create", "invoice")
BOOK = ("booked", "book", "invoice")
CREDITED = ("credited", "credit", "credit_note")
WARNING = WAITS = ("warning", "", "")
SKIPPED = ("skipped", "", "")

# (case, order state, config overrides, transfers in the log, expected steps, refund reads)
TABLE = [
    ("new completed order with a refund", "completed", {}, [], [TRANSFERRED, BOOK, CREDITED], 1),
    ("invoice booked, refund not credited", "completed", {}, [("invoice", True)], [CREDITED], 1),
    ("invoice booked, refund credited", "completed", {}, [("invoice", True), ("credit", True)], [], 0),
    ("credit note's draft left unbooked", "completed", {}, [("invoice", True), ("credit", False)], [CREDITED], 1),
    ("draft unbooked, the state books", "completed", {}, [("invoice", False)], [BOOK, CREDITED], 1),
    ("booked invoice, amounts changed since", "completed", {}, [("invoice", True, "changed"), ("credit", True)],
     [WARNING], 0),
    ("draft changed: updated", "completed", {}, [("invoice", False, "changed")],
     [("updated", "update", "invoice"), BOOK, CREDITED], 1),
    ("draft changed, update_drafts off", "completed", {"update_drafts": False}, [("invoice", False, "changed")],
     [WARNING, BOOK, CREDITED], 1),
    ("refunds ignored", "completed", {"refunds": "ignore"}, [("invoice", True)], [], 0),
    ("processing: an order document, no credit", "processing", {}, [], [("transferred", "create", "order")], 0),
    ("state not allowed", "on-hold", {}, [], [SKIPPED], 0),
    # Refunds are credited whatever state the order moves to, once it has an invoice.
    ("refunded, refund not credited", "refunded", {}, [("invoice", True)], [CREDITED], 1),
    ("refunded, refund credited", "refunded", {}, [("invoice", True), ("credit", True)], [SKIPPED], 0),
    ("a custom state, refund not credited", "wc-returned", {}, [("invoice", True)], [CREDITED], 1),
    ("refunded, the draft not booked", "refunded", {"per_state": {}}, [("invoice", False)], [WAITS], 1),
    ("without book, the draft made now", "completed", {"per_state": {}}, [], [TRANSFERRED, WAITS], 1),
    # Orders that leave the allowed states.
    ("cancelled, nothing transferred", "cancelled", {}, [], [SKIPPED], 0),
    ("cancelled, draft: deleted", "cancelled", {}, [("invoice", False)], [("updated", "delete", "invoice")], 0),
    ("cancelled, order document: deleted", "cancelled", {}, [("order", False)], [("updated", "delete", "order")], 0),
    ("cancelled, draft kept", "cancelled", {"cancelled_drafts": "keep"}, [("invoice", False)], [WARNING, WAITS], 1),
    ("cancelled, booked: refund credited, invoice named", "cancelled", {}, [("invoice", True)], [CREDITED, WARNING], 1),
    ("cancelled, booked, credit_note", "cancelled", {"cancelled_booked": "credit_note"}, [("invoice", True)],
     [CREDITED, CREDITED], 1),
    ("cancelled, booked, credit_note, all done", "cancelled", {"cancelled_booked": "credit_note"},
     [("invoice", True), ("credit", True), ("cancellation", True)], [SKIPPED], 0),
    ("a state listed as cancelled", "failed", {"cancelled_states": ["failed"]}, [("invoice", False)],
     [("updated", "delete", "invoice")], 0),
    # An order document made in processing, then completed: looked for as an invoice first.
    ("completed after processing", "completed", {}, [("order", False)], [TRANSFERRED, BOOK, CREDITED], 1),
]


@pytest.mark.parametrize(("state", "overrides", "existing", "expected", "reads"),
                         [row[1:] for row in TABLE], ids=[row[0] for row in TABLE])
def test_the_decision_table(state, overrides, existing, expected, reads) -> None:
    rules = settings(**overrides)
    of = order(status=state)
    made = []
    for kind, booked, *changed in existing:
        if kind in ("invoice", "order"):
            made.append(transfer(rules, of, DocumentKind(kind), booked=booked, changed=bool(changed)))
        elif kind == "cancellation":
            note = mapping.build_cancellation(rules, of, mapping.build_document(rules, of, INVOICE), Decimal("125.00"))
            made.append(replace(made[0], reference=note.reference, kind=CREDIT, refund_id="cancelled"))
        else:
            made.append(transfer(rules, of, CREDIT, booked=booked, refund_id="2001"))
    refunds = Reads(of)
    steps = decide(of, rules, made, refunds)
    assert summary(steps) == expected
    assert refunds.calls == reads  # the refunds' lines are read only while one waits
    assert [step.waits for step in steps] == [step == WAITS and "waits" in s.message for step, s in zip(expected, steps)]


def test_a_state_not_allowed_says_so() -> None:
    assert decide(order(status="on-hold"), settings(), [], Reads(order())) == [Step(Outcome.SKIPPED, NOT_ALLOWED)]


def test_an_order_before_the_start_date_is_skipped_with_both_dates() -> None:
    steps = decide(order(), settings(start_date="2027-01-01"), [], Reads(order()))
    assert [(s.outcome, s.message) for s in steps] == [
        (Outcome.SKIPPED, "Order created 2026-02-09, before the start date 2027-01-01")]


def test_without_booking_a_refund_waits_for_the_draft_named_and_the_engine_asks_first() -> None:
    rules = settings(per_state={})  # completed: an invoice draft, book: false
    of = order()
    draft = transfer(rules, of, INVOICE, booked=False)
    steps = decide(of, rules, [draft], Reads(of))
    assert [(s.outcome, s.message, s.waits, s.transfer) for s in steps] == [(Outcome.WARNING, (
        "Refund 2001 (125.00 DKK) waits: invoice draft 7 is not booked in the accounting system (checked now); "
        "the refund is credited on the first run after it is booked"), True, draft)]


def test_a_shipping_only_refund_is_credited_on_shipping_at_its_own_rate() -> None:
    rules, of = settings(), order()
    shipping = next(line for line in of.lines if line.kind is LineKind.SHIPPING)
    refund = Refund("2001", Decimal("61.25"), created=of.modified, lines=(replace(shipping, meta={}),))
    steps = decide(of, rules, [transfer(rules, of, INVOICE, booked=True)], lambda: (refund,))
    (credit,) = steps
    assert credit.document is not None
    assert [(l.kind, l.net, l.vat, l.vat_rate) for l in credit.document.lines] == [
        (LineKind.SHIPPING, Decimal("49.00"), Decimal("12.25"), Decimal("25"))]
    assert credit.document.totals.vat == Decimal("12.25")


def test_a_cancelled_booked_invoice_is_named_in_the_warning_with_what_is_not_refunded() -> None:
    rules, of = settings(), order(status="cancelled")
    steps = decide(of, rules, [transfer(rules, of, INVOICE, booked=True), transfer(rules, of, CREDIT, booked=True,
                                                                                  refund_id="2001")], Reads(of))
    assert [(s.outcome, s.message) for s in steps] == [(Outcome.WARNING, (
        "The order was cancelled after booked invoice 7 was booked; the invoice stays in the books and the VAT "
        "return (481.25 DKK of it not refunded): credit it in the accounting system if the sale is void "
        "(or set transfer.cancelled_booked: credit_note)"))]


def test_a_cancellation_credit_note_credits_what_the_refunds_do_not() -> None:
    rules, of = settings(cancelled_booked="credit_note"), order(status="cancelled")
    invoice = transfer(rules, of, INVOICE, booked=True)
    steps = decide(of, rules, [invoice, transfer(rules, of, CREDIT, booked=True, refund_id="2001")], Reads(of))
    (credit,) = steps
    assert credit.action is Action.CREDIT and credit.document is not None
    assert credit.document.reference == "iexsync:woocommerce:1006:credit_note:cancelled"
    assert credit.document.totals.gross == Decimal("606.25") - Decimal("125.00")
    unrefunded = order("1001", status="cancelled")  # no refunds: the invoice reversed line for line
    steps = decide(unrefunded, rules, [transfer(rules, unrefunded, INVOICE, booked=True)], Reads(unrefunded))
    (credit,) = steps
    invoice_lines = mapping.build_document(rules, unrefunded, INVOICE).lines
    assert credit.document is not None and credit.document.lines == invoice_lines


def test_an_invoice_after_an_order_document_is_looked_for_by_the_orders_reference() -> None:
    rules, of = settings(), order()
    steps = decide(of, rules, [transfer(rules, of, ORDER, booked=False)], Reads(of))
    assert steps[0].action is Action.CREATE and steps[0].converted_from == "iexsync:woocommerce:1006:order"
    assert decide(of, rules, [], Reads(of))[0].converted_from == ""  # no order document: nothing to look for


def test_a_booked_invoice_whose_amounts_changed_gets_a_warning_naming_the_difference() -> None:
    rules, of = settings(), order()
    booked = replace(transfer(rules, of, INVOICE, booked=True), totals={"net": "1.00", "vat": "0.25", "gross": "1.25"})
    steps = decide(of, rules, [booked, transfer(rules, of, CREDIT, booked=True, refund_id="2001")], Reads(of))
    assert len(steps) == 1 and steps[0].outcome is Outcome.WARNING
    assert steps[0].message.startswith("The order's amounts changed after invoice 7 was booked (net 1.00 → 485.00")


def test_actions_and_kinds_are_enums_and_the_credit_note_credits_the_invoice() -> None:
    rules, of = settings(), order()
    steps = decide(of, rules, [transfer(rules, of, INVOICE, booked=True)], Reads(of))
    (credit,) = steps
    assert credit.action is Action.CREDIT and credit.document is not None
    assert credit.document.kind is CREDIT and credit.document.refund_id == "2001"
    assert credit.document.credits_reference == mapping.reference(rules, of, INVOICE)
