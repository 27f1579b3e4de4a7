"""The decision for one order, and the run loop. Knows no platform and no accounting system.

A run:
1. resolves the intents an interrupted run left open, by looking each reference up in
   the accounting system (found → recorded; not found → nothing was written, safe to write);
2. reads the orders the shop changed since the cursor (minus an overlap window), plus the
   orders due for a retry, each order once;
3. for each order: decide (pure, read-only) → claim → decide again → act → log;
4. moves the cursor only after every order it covers is committed in the log.

Acting on a step: commit an intent, call the accounting system, commit the result, the
event and the intent's closing in one transaction. A write whose answer never came
leaves its intent open: the next run resolves it by lookup, never by a blind retry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from iexsync import naming
from iexsync.errors import DocumentExists, OrderError, OutcomeUnknown, TemporaryFailure, UserError
from iexsync.events import KEPT_EVENTS, Event, RunResult
from iexsync.lazy import LazyModule
from iexsync.recheck import read_batch, recheck_batch
from iexsync.shops.base import BrokenOrder, Shop, ShopItem, Unchanged
from iexsync.store import Intent, Store, Transfer, payload
from iexsync.timeutil import iso, parse_time, utc_now

# What deciding an order needs, imported when the first order is decided (an idle run decides none).
documents = LazyModule("iexsync.document")
mapping = LazyModule("iexsync.mapping")
planner = LazyModule("iexsync.planner")
references = LazyModule("iexsync.references")

TYPE_CHECKING = False
if TYPE_CHECKING:
    from iexsync.books.base import Books
    from iexsync.config import Settings
    from iexsync.document import Document, DocumentRef
    from iexsync.model import Order, Refund
    from iexsync.planner import Step

T = TypeVar("T")

__all__ = ["Engine", "Event", "KEPT_EVENTS", "OrderPool", "RunResult", "changed_orders"]


def changed_orders(shop: Shop, since: datetime | None) -> Iterator[ShopItem]:
    """The shop's changed orders. The list is the run's, not one order's: an OrderError
    escaping it (the shop unreachable, an answer that is not a list of orders) stops the run
    here, for every connector alike: a passing one as a temporary failure (exit 75, the
    next run carries on), any other as an error the user must fix. The cursor stays."""
    try:
        yield from shop.changed_orders(since)
    except OrderError as exc:
        if exc.transient:
            raise TemporaryFailure(f"{exc.message}; the run stops and the next one tries again") from None
        raise UserError(exc.message) from None


class Engine:
    def __init__(self, settings: Settings, shop: Shop, books: Books, store: Store, *, dry_run: bool = False,
                 on_event: Callable[[Event], None] | None = None):
        self.settings = settings
        self.shop = shop
        self.books = books
        self.store = store
        books.use_memory(store)  # customer numbers and products found in earlier runs
        self.dry_run = dry_run
        self.on_event = on_event
        self.result = RunResult()
        self._blocked: set[str] = set()  # orders whose open intent could not be resolved yet
        self._held_elsewhere: set[str] = set()  # orders a live run of another process is writing
        self._due: set[str] = set()  # orders this run fetches by id because they are due
        # A log that has recorded no document yet may be new, or a lost one's replacement.
        self._fresh_log = not dry_run and not store.has_transfers()
        # Whether any allowed state makes an order document: only then can the bookkeeper have
        # invoiced one, so only then does a fresh log look for such an invoice.
        self._order_documents = any(getattr(settings.transfer.rule_for(state), "document", "") == "order"
                                    for state in settings.transfer.allowed_states)
        self._result_lock = threading.Lock()  # orders run in a pool of threads
        self._lookup: Any = None  # references.ReferenceLookup, made by the first order that looks
        self._lookup_lock = threading.Lock()
        # A shop that can tell (on its own class: a wrapper such as the importer's window
        # reads each item's fields itself) lists orders decided before exactly as they
        # are without parsing them; process() settles them as it settles an unchanged Order.
        if not dry_run and getattr(type(shop), "skip_unchanged", None) is not None:
            fingerprint = settings.fingerprint
            shop.skip_unchanged(lambda order_id, raw: store.unchanged(order_id, _digest(raw), fingerprint))

    # --- the run -----------------------------------------------------------------------------
    def run(self, order_ids: list[str] | None = None, *, forced: bool = True) -> RunResult:
        """One sync run; `order_ids` limits it to those orders: on demand (`forced`: every
        outcome is logged again), or for webhook deliveries (logged once, as cron does)."""
        self.result.run = "dry-run" if self.dry_run else self.store.begin_run()
        if not self.dry_run:
            self.resolve_intents()
        seen: set[str] = set()
        queued = [] if self.dry_run else self.store.take_deliveries()  # webhook deliveries waiting
        newest = None
        with OrderPool(self._workers) as pool:  # sized at its first order: an idle run never asks the books
            if order_ids is not None:
                wanted = list(dict.fromkeys(order_ids))
                seen.update(wanted)
                for item in ([] if forced else self._read_together(wanted)):
                    wanted.remove(item.order_id)
                    self._submit(pool, item)
                for order_id in wanted:
                    pool.submit(self._fetch_and_process, order_id, forced)
            else:
                self._due = set(self.store.due_orders(self.settings.fingerprint))
                # Edits no feed shows: the recheck's read goes out beside the feed's first page.
                with ThreadPoolExecutor(1, thread_name_prefix="iexsync-recheck") as reader:
                    rechecked = reader.submit(read_batch, self.shop,
                                              recheck_batch(self.shop, self.store, dry_run=self.dry_run))
                    newest = self._submit_changed(pool, seen)
                    for item in rechecked.result():
                        if item.order_id not in seen:  # the feed's copy was handled already
                            seen.add(item.order_id)
                            self._submit(pool, item)
                for order_id in [*self._due, *queued]:
                    if order_id not in seen:
                        seen.add(order_id)
                        pool.submit(self._fetch_and_process, order_id)
        # Every order is committed now (a failure inside the pool was raised above, and the
        # cursor did not move): only now may the cursor pass them.
        if newest is not None and not self.dry_run:
            self.store.set_cursor(self._cursor_name, iso(newest))
        if not self.dry_run:
            self.store.finish_deliveries([order_id for order_id in queued if order_id in seen])
            self.store.finish_run(dict(self.result.counts))
        return self.result

    def _workers(self) -> int:
        limit = getattr(self.books, "max_workers", None)
        return min(self.settings.transfer.workers, limit) if limit else self.settings.transfer.workers

    @property
    def _cursor_name(self) -> str:
        return f"shop:{self.shop.name}"

    def _submit_changed(self, pool: "OrderPool", seen: set[str]) -> datetime | None:
        """Every order changed since the cursor, into the pool; returns the newest modification seen."""
        stored = self.store.cursor(self._cursor_name)
        since = None
        if stored:
            since = parse_time(stored, "cursor") - timedelta(minutes=self.settings.transfer.overlap_minutes)
        newest = parse_time(stored, "cursor") if stored else None
        started = utc_now()
        for item in changed_orders(self.shop, since):
            if item.order_id in seen:
                continue  # a page boundary shifted under us: the order is handled once
            seen.add(item.order_id)
            self._submit(pool, item)
            modified = item.modified
            if modified is not None and (newest is None or modified > newest):
                newest = modified
        # An order changed after this pass read it carries a time after the pass began; a
        # cursor beyond that time would leave the change outside the next run's window.
        if newest is not None and newest > started:
            newest = started
        return newest

    def _submit(self, pool: "OrderPool", item: ShopItem) -> None:
        """An order decided before exactly as it is (Unchanged) is settled here: nothing to
        do for it, so it takes no thread and does not start the pool (nor open the books)."""
        if isinstance(item, Unchanged):
            self._settle(item)
        else:
            pool.submit(self._settle, item)

    def _read_together(self, order_ids: list[str]) -> list[ShopItem]:
        """Orders named by id for the webhook worker, read a page at a time where the shop
        can (WooCommerce's `include=`): a pass for the deliveries of a burst makes one
        request, not one per order, and an order exactly as last decided comes back
        Unchanged, unparsed. Any the answer lacks, or all if the request fails, are read
        one by one as before (so each logs its own failure)."""
        read = getattr(self.shop, "orders_by_id", None)
        if read is None or len(order_ids) < 2:
            return []
        size = getattr(self.shop, "per_page", 100)
        items: list[ShopItem] = []
        try:
            for at in range(0, len(order_ids), size):
                items += read(order_ids[at:at + size])
        except OrderError:
            return []
        wanted, found = set(order_ids), []
        for item in items:
            if item.order_id in wanted:  # each once, whatever the answer repeats
                wanted.discard(item.order_id)
                found.append(item)
        return found

    def _fetch_and_process(self, order_id: str, forced: bool = False) -> None:
        """An order named by id (due for a retry, webhook, on demand); due no longer once settled."""
        try:
            item = self.shop.get_order(order_id)
        except OrderError as exc:
            self._log_failure(order_id, "", "", exc)
            return
        self._settle(item, forced)

    def _settle(self, item: ShopItem, forced: bool = False) -> None:
        """Process the order; one that was due and is now settled is due no longer."""
        if self.process(item, forced=forced) and not self.dry_run and item.order_id in self._due:
            self.store.clear_due(item.order_id)

    # --- one order ---------------------------------------------------------------------------
    def process(self, item: ShopItem, forced: bool = False) -> bool:
        """Decide and act on one order; nothing that goes wrong here stops the run.

        Returns whether the order is settled for now (no failure, nobody else holding it)."""
        with self._result_lock:
            self.result.orders_seen += 1
        if item.order_id in self._held_elsewhere:
            self._held_by_another(item.order_id)
            return False
        if item.order_id in self._blocked:
            return False
        if isinstance(item, BrokenOrder):
            self._log(item.order_id, item.number, item.state, planner.Step(planner.Outcome.ERROR, f"The shop's order cannot be read: {item.error}"),
                      source=item.raw)
            return False
        if isinstance(item, Unchanged):
            return True  # the shop found it decided before exactly as it is (skip_unchanged)
        order = item
        seen = "" if self.dry_run else _digest(order.raw)
        if not forced and self.store.unchanged(order.order_id, seen, self.settings.fingerprint):
            return True  # decided before exactly as it is, under this config: nothing new to do or say
        settled = self._decide_and_act(order, forced, seen)
        if settled and not self.dry_run:
            self.store.record_seen(order.order_id, seen, self.settings.fingerprint)  # for one with nothing to log
        return settled

    def _decide_and_act(self, order: Order, forced: bool, seen: str) -> bool:
        """`seen` is committed with the order's last step only: an order interrupted halfway
        must not look settled to the next run."""
        refunds = functools.cache(lambda: self.shop.refunds(order))  # read once, and only if a refund waits
        try:
            steps = self.decide(order, refunds)
        except OrderError as exc:
            self._log_failure(order.order_id, order.number, order.state, exc, order)
            return False
        if self.dry_run:
            for step in steps:
                self._plan(order, step)
            return True
        if not any(step.acts for step in steps):
            seen = "" if _waits(steps) else seen  # a wait is asked about again next run: never settled
            for index, step in enumerate(steps):
                self._log(order.order_id, order.number, order.state, step, source=order.raw, forced=forced,
                          seen=seen if index == len(steps) - 1 else "")
            return not _waits(steps)
        if not self.store.claim(order.order_id):
            self._held_by_another(order.order_id)
            return False
        try:
            # Decide again under the claim: another writer may have acted in between.
            steps = self.decide(order, refunds)
            seen = "" if _waits(steps) else seen
            for index, step in enumerate(steps):
                self._carry_out(order, step, forced, seen if index == len(steps) - 1 else "")
        except _Stop:
            return False  # the failed step logged why; the order's later steps wait for the next run
        except OrderError as exc:
            self._log_failure(order.order_id, order.number, order.state, exc, order)
            return False
        finally:
            self.store.release(order.order_id)
        return not _waits(steps)

    def _held_by_another(self, order_id: str) -> None:
        """Another live run holds the order. It is due, so the cursor passing it loses
        nothing: should that run never finish it, a later run fetches it by id."""
        with self._result_lock:
            self.result.busy += 1
        with self.store.transaction():
            self.store.mark_due(order_id)

    def decide(self, order: Order, refunds: Callable[[], tuple[Refund, ...]]) -> list[Step]:
        """The planner's steps for `order`, from one read of its transfers in the log.

        Before a step that says a refund waits for a draft to be booked, or that would update
        a draft, the accounting system is asked whether it is booked now (the bookkeeper books
        drafts by hand when `book` is off): booked, it is recorded so, and the order is decided
        again, so the refund is credited and a booked invoice is never updated; still a draft,
        the wait is true."""
        transfers = self.store.transfers_for(order.order_id)
        state_match = getattr(self.shop, "state_match", None)  # a state with parts (Shopify)
        steps = planner.decide(order, self.settings, transfers, refunds, state_match)
        waited_for = {step.transfer.reference: step.transfer for step in steps
                      if step.transfer and (step.waits or step.action is planner.Action.UPDATE)}
        booked, gone = {}, set()
        for reference, transfer in waited_for.items():
            now = self.books.status(_ref(transfer))
            if now is None:
                gone.add(reference)
            elif now.booked:
                booked[reference] = self._booked_by_hand(order, transfer, now)
        if booked:
            steps = planner.decide(order, self.settings, [booked.get(t.reference, t) for t in transfers], refunds,
                                   state_match)
        return [_gone(step) if step.waits and step.transfer and step.transfer.reference in gone else step
                for step in steps]

    def _booked_by_hand(self, order: Order, transfer: Transfer, now: DocumentRef) -> Transfer:
        """Record a draft booked in the accounting system by someone else, and say so."""
        recorded = replace(transfer, number=now.number, remote_id=now.remote_id, booked=True)
        if not self.dry_run:
            ref = replace(now, reference=transfer.reference)
            message = (f"{_label(transfer).capitalize()} was booked in the accounting system (by hand) as "
                       f"{naming.document_name(now.kind, now.number, True)}; recorded")
            source = self._ready(order.raw)
            with self.store.transaction():
                self.store.save_transfer(recorded)
                self._log_in_transaction(order, planner.Step(planner.Outcome.BOOKED, message), ref=ref, source=source)
        return recorded

    # --- acting ------------------------------------------------------------------------------
    def _carry_out(self, order: Order, step: Step, forced: bool, seen: str = "") -> None:
        if not step.acts:
            self._log(order.order_id, order.number, order.state, step, source=order.raw, forced=forced, seen=seen)
            return
        if step.action is planner.Action.DELETE:
            self._delete(order, step, seen)
            return
        document = step.document
        assert document is not None
        reference = document.reference
        if step.action is planner.Action.BOOK:
            current = self.store.transfer(reference)
            if current is None or current.booked:
                return  # the create before it failed, or it is booked already
        if (self._fresh_log and self._order_documents and step.action is planner.Action.CREATE
                and document.kind is documents.DocumentKind.INVOICE and not step.converted_from):
            # A new or lost log knows no order document, yet the bookkeeper may have invoiced
            # one (e-conomic's order → invoice flow carries the order's reference over).
            step = replace(step, converted_from=mapping.reference(self.settings, order, documents.DocumentKind.ORDER))
        intent = Intent(
            reference=reference, order_id=order.order_id, order_number=order.number, action=step.action.value,
            kind=document.kind.value, fingerprint=document.fingerprint(), totals=planner.money(document),
            refund_id=document.refund_id, run=self.store.run,
        )
        ref = self._under_intent(order, intent, lambda: self._write(step, document), "written")
        recorded = _transfer(intent, ref)
        if ref.remote_id in (_ADOPTED, _CONVERTED):
            recorded = replace(recorded, remote_id="", fingerprint="")  # content unknown: a draft is updated next
        source, target = self._ready(order.raw), self._ready(document.to_json())
        with self.store.transaction():
            self.store.save_transfer(recorded)
            self.store.close_intent(reference)
            message = step.message.format(document=_ref_name(ref)) + mapping.remarks_text(document, ref, step.action)
            if ref.remote_id == _ADOPTED:
                message = (f"Already in the accounting system as {_ref_name(ref)} "
                           "(found by its reference); recorded, not written again")
            elif ref.remote_id == _CONVERTED:
                message = (f"Already in the accounting system as {_ref_name(ref)}, "
                           f"made from the order's document ({step.converted_from}); recorded, not written again")
            done = planner.Step(step.outcome, message, step.action, document)
            self._log_in_transaction(order, done, ref=ref, source=source, target=target, seen=seen)

    def _delete(self, order: Order, step: Step, seen: str) -> None:
        """Remove an unbooked document (a cancelled order's draft), under an intent like any
        write: an unknown outcome is settled by lookup on the next run."""
        transfer = step.transfer
        assert transfer is not None
        intent = Intent(
            reference=transfer.reference, order_id=order.order_id, order_number=order.number,
            action=planner.Action.DELETE.value, kind=transfer.kind.value, fingerprint=transfer.fingerprint,
            totals=transfer.totals, refund_id=transfer.refund_id, run=self.store.run,
        )
        now = self._under_intent(order, intent, lambda: self.books.delete(_ref(transfer)), "deleted")
        source = self._ready(order.raw)
        with self.store.transaction():
            self.store.close_intent(transfer.reference)
            if now is None:
                self.store.delete_transfer(transfer.reference)
                self._log_in_transaction(order, step, ref=_ref(transfer), source=source, seen=seen)
                return
            # Booked meanwhile (by hand): it stays; the next run decides what a booked invoice
            # of a cancelled order needs.
            self.store.save_transfer(replace(transfer, number=now.number, remote_id=now.remote_id, booked=now.booked))
            message = (f"The order was cancelled, but {_label(transfer)} was booked in the accounting system "
                       f"meanwhile, as {_ref_name(now)}; it was not deleted")
            self._log_in_transaction(order, planner.Step(planner.Outcome.WARNING, message), due=True,
                                     ref=replace(now, reference=transfer.reference), source=source)
        raise _Stop()

    def _under_intent(self, order: Order, intent: Intent, call: Callable[[], T], done: str) -> T:
        """Commit the intent, then make the remote call. A definite refusal closes the intent
        with the order's error; an unknown outcome leaves it open, for the next run to settle
        by lookup, never by a blind retry. Either way the order's later steps wait (_Stop).
        Anything else (credentials, the log, a bug) stops the run with the intent open.
        The caller records the result and closes the intent in one transaction."""
        self.store.open_intent(intent)
        try:
            return call()
        except OutcomeUnknown as exc:
            self._log_failure(order.order_id, order.number, order.state, exc, order,
                              suffix=f"; whether it was {done} is checked in the accounting system on the next run")
            raise _Stop() from None
        except OrderError as exc:
            source = self._ready(order.raw)
            with self.store.transaction():
                self.store.close_intent(intent.reference)
                self._log_in_transaction(order, _failure_step(exc), due=exc.transient, source=source)
            raise _Stop() from None

    def _write(self, step: Step, document: Document) -> DocumentRef:
        try:
            return self._existing(step, document) or self._call(step, document)
        except DocumentExists as exc:
            return _adopted(exc.ref)

    def _existing(self, step: Step, document: Document) -> DocumentRef | None:
        """Before a create, look for the document in the accounting system where it may be
        already: an invoice the bookkeeper made from the order's document (found by that
        document's reference, which the conversion carries over), or, on a fresh log,
        anything with this reference: a lost or replaced log must not book again what the
        accounting system already holds. On a fresh log its own reference is asked first, then
        the order document's (the log knows no order document, so every invoice asks)."""
        found = None
        if step.action in (planner.Action.CREATE, planner.Action.CREDIT) and self._fresh_log:
            found = self._references.find(document)  # in bulk where the connector can list them
            if found is not None and step.action is planner.Action.CREDIT and not found.booked:
                return None  # a credit note's draft whose booking never happened: credit() finds and books it
        if found is not None:
            return _adopted(found)
        if step.action is planner.Action.CREATE and step.converted_from:
            found = (self._references.find(replace(document, reference=step.converted_from))
                     if self._fresh_log else self.books.find(step.converted_from, documents.DocumentKind.INVOICE))
            if found is not None and found.kind is documents.DocumentKind.INVOICE:
                return replace(found, reference=document.reference, remote_id=_CONVERTED)
        return None

    def _call(self, step: Step, document: Document) -> DocumentRef:
        if step.action is planner.Action.CREATE:
            return self.books.create(document)
        current = self.store.transfer(document.reference) if step.action is not planner.Action.CREDIT else None
        if step.action is planner.Action.UPDATE:
            assert current is not None
            return self.books.update(_ref(current), document)
        if step.action is planner.Action.BOOK:
            assert current is not None
            return self.books.book(_ref(current), document)  # the document: to check the draft's totals
        invoice = self.store.transfer(document.credits_reference)
        if invoice is None:
            raise OrderError("the invoice to credit is not in the log")
        return self.books.credit(_ref(invoice), document, resume=self._may_exist(document))

    @property
    def _references(self) -> Any:
        """The bulk reference lookup (references.py), one for the run's threads."""
        with self._lookup_lock:
            if self._lookup is None:
                transfer = self.settings.transfer
                self._lookup = references.ReferenceLookup(self.books, f"{transfer.reference_prefix}:", transfer.start_date)
            return self._lookup

    def _may_exist(self, document: Document) -> bool:
        """Whether an earlier attempt may have written part of this document: then the
        connector looks before it writes. Only then: a lookup costs calls on every credit.

        Yes when the log is fresh (lost, replaced), when an interrupted write's draft was
        found unbooked (recorded as an unbooked transfer), or when the order ever failed
        (a failure after the draft was made leaves nothing else behind)."""
        return ((self._fresh_log and not self._references.absent(document))
                or self.store.transfer(document.reference) is not None
                or self.store.failed_before(document.order_id))

    def resolve_intents(self) -> None:
        """Settle every write an interrupted run left without a recorded answer."""
        for intent in self.store.open_intents():
            if self.store.claimed_elsewhere(intent.order_id):
                # Another live run holds the order and may be writing this very moment: its
                # intent is its own to settle (or, if it dies, the next run's).
                self._held_elsewhere.add(intent.order_id)
                continue
            action = planner.Action(intent.action)
            try:
                found = self.books.find(intent.reference, documents.DocumentKind(intent.kind))
            except OrderError:
                self._blocked.add(intent.order_id)  # cannot tell yet: leave the order alone this run
                continue
            with self.store.transaction():
                if action is planner.Action.DELETE:
                    # Gone: the deletion happened. Still there (booked or not): recorded as it is,
                    # and the order, due, is decided again.
                    if found is None:
                        self.store.delete_transfer(intent.reference)
                        self.store.log(
                            order_id=intent.order_id, order_number=intent.order_number, state="",
                            outcome=planner.OUTCOME_OF[action].value, message=(
                                f"Recovered after an interrupted run: the {naming.kind_name(intent.kind, None)} with reference "
                                f"{intent.reference} is no longer in the accounting system: deleted"),
                        )
                    elif found.booked:
                        self.store.save_transfer(_transfer(intent, found))
                elif found is not None and action is planner.Action.CREDIT and not found.booked:
                    # Its draft landed, its booking did not: recorded unbooked, so the credit
                    # is not done yet, and the order (due) resumes it rather than writes again.
                    self.store.save_transfer(_transfer(intent, found))
                elif found is not None and (action is not planner.Action.BOOK or found.booked):
                    recovered = _transfer(intent, found)
                    if action is planner.Action.UPDATE:
                        recovered = replace(recovered, fingerprint="")  # unknown content: update again
                    self.store.save_transfer(recovered)
                    if action is not planner.Action.UPDATE:
                        outcome = planner.OUTCOME_OF[action].value
                        self.store.log(
                            order_id=intent.order_id, order_number=intent.order_number, state="", outcome=outcome,
                            message=(f"Recovered after an interrupted run: {_ref_name(found)} "
                                     "was found in the accounting system by its reference"),
                            document_kind=found.kind.value, document_number=found.number,
                            document_booked=found.booked,
                        )
                        self._count(Event(intent.order_number, "", outcome, _ref_name(found),
                                          "recovered after an interrupted run"))
                self.store.close_intent(intent.reference)
                self.store.mark_due(intent.order_id)

    # --- logging -------------------------------------------------------------------------------
    def _log_failure(self, order_id: str, number: str, state: str, exc: OrderError, order: Order | None = None,
                     suffix: str = "") -> None:
        step = planner.Step(planner.Outcome.ERROR, exc.message + suffix)
        source = self._ready(order.raw if order else None)
        with self._writing():
            self._log_row(order_id, number, state, step, due=exc.transient, source=source,
                          email=order.customer.email if order else "")

    def _log(self, order_id: str, number: str, state: str, step: Step, source: Any = None, forced: bool = False,
             seen: str = "") -> None:
        if step.waits:
            step = self._waiting(step)
        source = self._ready(source)
        with self._writing():
            self._log_row(order_id, number, state, step, source=source, forced=forced, seen=seen)

    def _ready(self, value: Any) -> Any:
        """A payload dumped and redacted before the transaction that logs it (store.payload)."""
        return value if self.dry_run else payload(value)

    def _waiting(self, step: Step) -> Step:
        """A refund's wait, naming the draft it waits for (made earlier, or by this very pass):
        the same words every run, so it is said once."""
        transfer = step.transfer
        if transfer is None and step.document is not None and not self.dry_run:
            transfer = self.store.transfer(step.document.credits_reference)
        draft = _label(transfer) if transfer is not None else "the invoice draft"
        return replace(step, message=step.message.replace(planner.WAITED_FOR, draft))

    def _writing(self) -> Any:
        """A log transaction; a dry run writes nothing, so it gets none."""
        return nullcontext() if self.dry_run else self.store.transaction()

    def _log_in_transaction(self, order: Order, step: Step, *, due: bool = False, ref: DocumentRef | None = None,
                            source: Any = None, target: Any = None, seen: str = "") -> None:
        self._log_row(order.order_id, order.number, order.state, step, due=due, ref=ref, source=source, target=target,
                      email=order.customer.email, seen=seen)

    def _log_row(self, order_id: str, number: str, state: str, step: Step, *, due: bool = False,
                 ref: DocumentRef | None = None, source: Any = None, target: Any = None, email: str = "",
                 forced: bool = False, seen: str = "") -> None:
        if self.dry_run:
            self._count(Event(number or order_id, state, step.outcome.value, "", step.message))
            return
        due = due or step.waits  # asked about again on every run until it is booked
        signature = _signature(step, state, ref)
        logged = self.store.log(
            order_id=order_id, order_number=number, state=state, outcome=step.outcome.value, message=step.message,
            document_kind=ref.kind.value if ref else "", document_number=ref.number if ref else "",
            document_booked=ref.booked if ref else None,
            email=email, source=source, target=target, signature=None if forced else signature, due=due,
            config=self.settings.fingerprint, seen=seen,
        )
        if logged:
            document = _ref_name(ref) if ref else ""
            self._count(Event(number or order_id, state, step.outcome.value, document, step.message))

    def _count(self, event: Event) -> None:
        with self._result_lock:
            self.result.add(event)
        if self.on_event:
            self.on_event(event)

    def _plan(self, order: Order, step: Step) -> None:
        if not step.acts:
            if step.waits:
                step = self._waiting(step)
            self._count(Event(order.number, order.state, step.outcome.value, "", step.message))
            return
        kind = naming.kind_name(step.document.kind, None) if step.document else ""
        message = step.message.format(document=f"a new {kind}" if step.action is not planner.Action.BOOK else "the invoice")
        if step.document is not None:  # what the mapping would do to meet the shop's totals, as the real run says
            message += mapping.remarks_text(step.document, None, step.action)
        self._count(Event(order.number, order.state, step.outcome.value, kind, message))
        if step.document is not None and step.action is not None:
            with self._result_lock:
                self.result.planned.append({"action": step.action.value, "document": step.document.to_json()})


class OrderPool:
    """Runs orders on `workers` threads, with at most twice that many waiting, so a long
    stream of orders is never all in memory. Remote latency dominates a run; independent
    orders overlap it, while the log (one connection, one lock) stays a single writer.

    A failure that is not one order's (credentials, the log, a bug) stops new work, lets the
    orders in flight finish, and is raised when the pool closes: the run ends, the cursor stays.
    """

    def __init__(self, workers: int | Callable[[], int]):
        self._size = workers if callable(workers) else (lambda: workers)  # asked at the first order
        self.workers = 0  # not sized yet
        self._executor: ThreadPoolExecutor | None = None
        self._slots: threading.BoundedSemaphore | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> "OrderPool":
        return self

    def _start(self) -> None:
        self.workers = max(1, self._size())
        self._slots = threading.BoundedSemaphore(self.workers * 2)
        if self.workers > 1:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="iexsync-order")

    def submit(self, function: Callable[..., None], *args: Any) -> None:
        if self._failure is not None:
            raise self._failure
        if not self.workers:
            self._start()
        if self._executor is None:
            function(*args)  # one worker: in this thread, in order
            return
        self._slots.acquire()
        self._executor.submit(self._guarded, function, *args)

    def _guarded(self, function: Callable[..., None], *args: Any) -> None:
        try:
            if self._failure is None:
                function(*args)
        except BaseException as exc:  # noqa: BLE001 - carried to the submitting thread
            if self._failure is None:
                self._failure = exc
        finally:
            self._slots.release()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if exc is None and self._failure is not None:
            raise self._failure


class _Stop(OrderError):
    """This order's remaining steps must not run; its failure is already logged."""

    def __init__(self) -> None:
        super().__init__("")


def _failure_step(exc: OrderError) -> Step:
    return planner.Step(planner.Outcome.ERROR, exc.message)


def _digest(raw: dict[str, Any]) -> str:
    """The order as the shop sent it, digested: any change to it (a refund, an edit, a new
    state) changes this. Empty, so never taken as unchanged, if it cannot be serialised."""
    try:
        text = json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return ""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _signature(step: Step, state: str, ref: DocumentRef | None) -> str:
    text = "|".join((step.outcome.value, state, step.message, ref.reference if ref else ""))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _transfer(intent: Intent, ref: DocumentRef) -> Transfer:
    return Transfer(
        reference=intent.reference, order_id=intent.order_id, order_number=intent.order_number, kind=documents.DocumentKind(intent.kind),
        number=ref.number, remote_id=ref.remote_id, booked=ref.booked, fingerprint=intent.fingerprint,
        totals=intent.totals, refund_id=intent.refund_id,
    )


_ADOPTED = "\x00adopted"  # marks a ref found remotely rather than written by this step
_CONVERTED = "\x00converted"  # ... found as the invoice the bookkeeper made from the order's document


def _adopted(ref: DocumentRef) -> DocumentRef:
    return replace(ref, remote_id=_ADOPTED)


def _gone(step: Step) -> Step:
    """A refund's wait for a draft that is no longer in the accounting system, said so."""
    assert step.transfer is not None
    refund = step.message.split(" waits: ", 1)[0]
    return replace(step, message=(
        f"{refund} waits: {_label(step.transfer)} is no longer in the accounting system (deleted there?), so there "
        "is no invoice to credit it against; book the sale and credit the refund there by hand"))


def _waits(steps: list[Step]) -> bool:
    return any(step.waits for step in steps)


def _label(transfer: Transfer) -> str:
    return naming.document_name(transfer.kind, transfer.number, transfer.booked)


def _ref(transfer: Transfer) -> DocumentRef:
    return documents.DocumentRef(reference=transfer.reference, kind=transfer.kind, number=transfer.number,
                       remote_id=transfer.remote_id, booked=transfer.booked)


def _ref_name(ref: DocumentRef) -> str:
    """"invoice draft 1", "booked invoice 20003": a draft and a booked invoice are told apart."""
    return naming.document_name(ref.kind, ref.number, ref.booked)
