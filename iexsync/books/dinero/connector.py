"""The Dinero books connector: invoice drafts, booking, payments, credit notes.

How it keeps the engine's exactly-once promise:
- every document gets its own Guid, derived from its reference (UUIDv5), and carries the
  reference in `ExternalReference`; `find` reads that Guid, then filters the list by the
  reference, so an interrupted write is always found again, and a repeated POST of the same
  document is refused by Dinero (409) rather than made twice;
- a POST whose answer never came raises OutcomeUnknown and is never repeated here; the
  engine resolves it with `find` before anything is written again;
- the Timestamp rule: every change carries the document's current TimeStamp; a stale one
  (code 58) is read again and the write tried once more, only if the document is still the
  draft it was (a booked one is never touched);
- a payment carries `<reference>:payment` and is looked up among the invoice's payments
  before it is registered again.

Dinero computes VAT itself, from each line's account (`vat` picks the account by the VAT the
shop charged). Its totals are read back and checked against the shop's within
`totals.tolerance` before booking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, ClassVar

from iexsync import errors
from iexsync.books.base import Memory
from iexsync.books.dinero.api import DineroApi, Rejected, filterable, quoted
from iexsync.books.dinero.body import BodyLine, body_lines, document_body
from iexsync.books.dinero.config import CONFIG_SCHEMA, DineroSettings
from iexsync.books.dinero.contacts import ContactDirectory
from iexsync.books.dinero.errors import DUPLICATE, TIMESTAMP_OUTDATED
from iexsync.books.dinero.products import ProductCatalog
from iexsync.books.dinero.vat import account_for, treatment
from iexsync.vat import VatTreatment
from iexsync.exchange import ExchangeRates
from iexsync.document import Document, DocumentKind, DocumentRef
from iexsync.model import LineKind, Totals
from iexsync.toolkit.cache import Recent, Remembered
from iexsync.toolkit.totals import totals_problem

log = logging.getLogger(__name__)

DOCUMENTS_NAMESPACE = uuid.UUID("9f2d6c1e-7b3a-5e48-8d21-4c6a0b9e3f57")  # [ours] fixed forever
LIST_FIELDS = "Guid,ExternalReference,Status,Number,TotalInclVat,TotalExclVat"
REMEMBERED = 512  # recent reads of documents, reused by the next step of the same order
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def document_guid(reference: str) -> str:
    """The Guid a document with this reference gets in Dinero, the same in every run."""
    return str(uuid.uuid5(DOCUMENTS_NAMESPACE, reference))


@dataclass(frozen=True)
class Place:
    path: str
    kind: DocumentKind
    name: str


INVOICES = Place("invoices", DocumentKind.INVOICE, "invoice")
CREDIT_NOTES = Place("sales/creditnotes", DocumentKind.CREDIT_NOTE, "credit note")


@dataclass(frozen=True)
class Draft:
    body: dict[str, Any]
    labels: list[str]  # per body line: the document line it came from, for error messages
    sale: VatTreatment


class DineroBooks:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    name = "dinero"
    # `iexsync config init`'s section (nothing to ask: the keys come from the environment)
    starter = """accounting:
  system: dinero
  organization_id: ${{DINERO_ORGANIZATION_ID}}
  client_id: ${{DINERO_CLIENT_ID}}          # personal integration: client id/secret + the organisation's API key
  client_secret: ${{DINERO_CLIENT_SECRET}}
  api_key: ${{DINERO_API_KEY}}
"""
    starter_at = None
    max_workers: ClassVar[int | None] = None

    def __init__(self, settings: DineroSettings, api: DineroApi | None = None):
        self.settings = settings
        self.api = api or DineroApi(settings)
        self.contacts = ContactDirectory(self.api, settings)
        self.products = ProductCatalog(self.api)
        self.memory = Remembered()
        self.rates = ExchangeRates(settings.exchange_rates, timeout=settings.timeout)
        self._held: dict[str, str] = {}  # reference → why its totals keep it from being booked
        self._read_back: Recent[str, dict[str, Any]] = Recent(REMEMBERED)  # guid → the document as last read or written

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "DineroBooks":
        return cls(DineroSettings.from_section(section, base_dir))

    def use_memory(self, memory: Memory) -> None:
        """Remember contact and product Guids in the log, per organisation and integration
        (a digest, never a credential)."""
        owner = hashlib.sha256(f"{self.settings.url}\n{self.settings.organization_id}".encode()).hexdigest()[:16]
        self.memory = Remembered(memory, f"dinero:{owner}:")
        self.contacts.memory = self.products.memory = self.memory
        self.rates.memory = memory  # a rate is the same for every organisation: kept without its prefix

    def check(self) -> None:
        self.api.get("accounts/deposit", {"fields": "AccountNumber"})  # 401/403 raise CredentialsRejected

    def close(self) -> None:
        self.api.close()

    # --- finding ------------------------------------------------------------------------
    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        """The document carrying `reference`: its own Guid read (1 GET), else the list
        filtered by ExternalReference (1 more)."""
        places = {DocumentKind.INVOICE: (INVOICES,), DocumentKind.CREDIT_NOTE: (CREDIT_NOTES,),
                  DocumentKind.ORDER: ()}.get(kind, (INVOICES, CREDIT_NOTES))  # type: ignore[arg-type]
        for place in places:
            item = self._read(place, document_guid(reference))
            if item is not None and item.get("ExternalReference") == reference:
                return self._found(place, item, reference)
        if not filterable(reference):
            return None  # the filter cannot say it; the Guid, derived from it, was the only way
        for place in places:
            listed = self.api.list(place.path, query_filter=f"ExternalReference eq {quoted(reference, 'reference')}",
                                   fields=LIST_FIELDS)
            found = sorted((i for i in listed if i.get("ExternalReference") == reference), key=lambda i: i.get("Status") == "Draft")
            if found:  # booked first: if a draft and a booked one carried it, the booked one counts
                return self._found(place, found[0], reference)
        return None

    def _found(self, place: Place, item: dict[str, Any], reference: str) -> DocumentRef:
        """A found document; a booked invoice whose payment was still due when its run was
        interrupted gets it now (looked up first), so booking and payment stay one step."""
        ref = self._ref(place, item, reference)
        marker = self.memory.recall(f"payment:{ref.remote_id}") if ref.booked and place is INVOICES else None
        if marker is not None:
            self._pay(ref.remote_id, item, json.loads(marker), look_first=True)
        return ref

    def _read(self, place: Place, guid: str) -> dict[str, Any] | None:
        item = self.api.get(f"{place.path}/{guid}", missing_ok=True)
        if item is not None:
            self._read_back.put(guid, item)
        return item

    def status(self, ref: DocumentRef) -> DocumentRef | None:
        """The document as Dinero has it now (read, never remembered): one GET of its Guid;
        gone from there, looked for by its reference."""
        if ref.booked:
            return ref  # booked is for good
        place = CREDIT_NOTES if ref.kind is DocumentKind.CREDIT_NOTE else INVOICES
        guid = _own_guid(ref)
        item = self._read(place, guid) if guid else None
        if item is not None:
            return self._ref(place, item, ref.reference)
        return self.find(ref.reference, ref.kind)

    # --- writing ------------------------------------------------------------------------
    def delete(self, ref: DocumentRef) -> DocumentRef | None:
        """Delete a draft, with its current TimeStamp. Booked meanwhile (by hand): returned as
        it is, untouched. Gone already: None."""
        if ref.booked:
            return ref
        now = self.status(ref)
        if now is None or now.booked:
            return now
        place = CREDIT_NOTES if ref.kind is DocumentKind.CREDIT_NOTE else INVOICES
        subject = f"the deletion of {_name(ref)}"
        for attempt in range(2):
            current = self._read(place, now.remote_id)
            if current is None:
                return None
            if current.get("Status") != "Draft":
                return self._ref(place, current, ref.reference)
            try:
                self.api.delete(f"{place.path}/{now.remote_id}", {"Timestamp": current["TimeStamp"]}, subject=subject)
                return None
            except Rejected as exc:
                if exc.code != TIMESTAMP_OUTDATED or attempt:
                    raise
        return None  # not reached: the second refusal was raised

    def create(self, document: Document) -> DocumentRef:
        if document.kind is DocumentKind.CREDIT_NOTE:
            original = self.find(document.credits_reference, DocumentKind.INVOICE) if document.credits_reference else None
            if original is None:
                raise errors.MappingError(f"credit note {document.reference}: the invoice it credits "
                                          f"({document.credits_reference or 'none named'}) is not in Dinero")
            return self.credit(original, document)
        if document.kind is DocumentKind.ORDER:
            raise errors.MappingError(
                f"order {document.order_number}: Dinero has no order documents; make this state an invoice draft "
                "(transfer.per_state: {<state>: {document: invoice, book: false}}) or leave it out of allowed_states")
        return self._create(INVOICES, document)

    def _create(self, place: Place, document: Document, credit_note_for: str = "") -> DocumentRef:
        guid = document_guid(document.reference)
        subject = _subject(document)

        def post(draft: Draft) -> Any:
            return self.api.post(place.path, draft.body, subject=subject, line_labels=draft.labels)

        try:
            draft, _ = self._write(lambda: self._draft(document, guid, credit_note_for), post)
        except Rejected as exc:
            if exc.status != 409 and exc.code != DUPLICATE:
                raise
            existing = self._read(place, guid)  # our Guid is taken: an earlier attempt's write landed
            if existing is None:
                raise
            raise errors.DocumentExists(self._ref(place, existing, document.reference)) from None
        item = self._read(place, guid)
        if item is None:
            raise errors.OutcomeUnknown(f"Dinero accepted {subject} but does not show {place.name} {guid}")
        return self._settle(document, place, item, draft)

    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        place = CREDIT_NOTES if ref.kind is DocumentKind.CREDIT_NOTE else INVOICES
        if ref.booked:
            raise errors.RemoteRejected(f"{_name(ref)} is booked in Dinero; a booked document is never changed")
        guid = self._guid(ref, place)
        current = self._current_draft(place, guid, ref)
        draft, _ = self._write(lambda: self._draft(document, guid, current.get("CreditNoteFor") or ""),
                               lambda draft: self._put(place, guid, draft, current, _subject(document)))
        item = self._read(place, guid)
        if item is None:
            raise errors.RemoteRejected(f"{_name(ref)} is no longer in Dinero (deleted there?)")
        return self._settle(document, place, item, draft)

    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        """Book a draft. Pass `document` to have its totals checked first (and, for an
        invoice, its payment registered)."""
        if ref.booked:
            return ref
        place = CREDIT_NOTES if ref.kind is DocumentKind.CREDIT_NOTE else INVOICES
        guid = self._guid(ref, place)
        current = self._read_back.get(guid) or self._read(place, guid)
        if current is None:
            raise errors.RemoteRejected(f"{_name(ref)} is no longer in Dinero (deleted there?)")
        resumed = current.get("Status") not in (None, "Draft")
        if not resumed and document is not None and self.settings.on_mismatch == "draft":
            problem = self._totals_problem(document, _totals(current))
            if problem:
                self._held[ref.reference] = problem
            else:
                self._held.pop(ref.reference, None)
        held = self._held.get(ref.reference)
        if held and not resumed and self.settings.on_mismatch == "draft":
            raise errors.RemoteRejected(f"{held}; {_name(ref)} was left unbooked for you to check")
        plan = self._payment_plan(document) if place is INVOICES and document is not None else None
        unpaid = self._unregistered_payment(document) if place is INVOICES and document is not None else ""
        if plan is not None and not resumed:
            # Before booking: a run that dies between the booking and the payment leaves this
            # behind, and `find` (which settles the interrupted booking) finishes the payment.
            self.memory.remember(f"payment:{guid}", json.dumps(plan))
        if not resumed:
            current, resumed = self._book(place, guid, current, ref)
        self._read_back.put(guid, current)
        booked = self._ref(place, current, ref.reference)
        if plan is not None:
            self._pay(guid, current, plan, look_first=resumed)
        return replace(booked, remarks=(*booked.remarks, unpaid)) if unpaid else booked

    def _book(self, place: Place, guid: str, current: dict[str, Any], ref: DocumentRef) -> tuple[dict[str, Any], bool]:
        """POST …/book with the current TimeStamp; (the booked document, whether an earlier
        attempt had booked it). A refusal is read back first: booked meanwhile is done."""
        subject = f"the booking of {_name(ref)} (order {_order_of(ref.reference)})"
        try:
            return self.api.post(f"{place.path}/{guid}/book", {"Timestamp": current["TimeStamp"]}, subject=subject), False
        except Rejected as exc:
            now = self._read(place, guid)
            if now is not None and now.get("Status") != "Draft":
                return now, True  # booked already, by an earlier attempt or by hand
            if exc.code != TIMESTAMP_OUTDATED or now is None:
                raise
            log.info("%s changed in Dinero since it was read; booking it with its new TimeStamp", _name(ref))
            return self.api.post(f"{place.path}/{guid}/book", {"Timestamp": now["TimeStamp"]}, subject=subject), False

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        """Write and book the credit note `document` (positive amounts) against the booked `ref`."""
        if resume:
            existing = self.find(document.reference, DocumentKind.CREDIT_NOTE)
            if existing is not None:  # an earlier attempt got this far: finish it, never repeat it
                return existing if existing.booked else self.book(existing, document)
        if ref.kind is not DocumentKind.INVOICE or not ref.booked:
            raise errors.RemoteRejected(
                f"refund {document.refund_id or document.reference}: {_name(ref)} is not a booked invoice; "
                "only a booked invoice can be credited, so book it first")
        invoice_guid = self._guid(ref, INVOICES)
        try:
            draft_ref = self._create(CREDIT_NOTES, document, credit_note_for=invoice_guid)
        except errors.DocumentExists as exc:
            draft_ref = exc.ref  # type: ignore[assignment]
        return self.book(draft_ref, document)

    # --- payments -----------------------------------------------------------------------
    def _payment_plan(self, document: Document) -> dict[str, Any] | None:
        """The payment of a paid order, on the deposit account its payment method names.

        A foreign-currency invoice's payment is registered in DKK on the deposit account, at
        the rate of the payment's date (`_per_100`, from `exchange_rates`), with the invoice's
        own amount as `AmountInForeignCurrency` (Dinero requires it for such a voucher)."""
        rule = self.settings.payment_for(document.payment.method_id, document.payment.title)
        if rule.deposit_account is None:
            return None
        title = document.payment.title or document.payment.method_id or "webshop"
        plan: dict[str, Any] = {
            "DepositAccountNumber": rule.deposit_account, "RemainderIsFee": False,
            "ExternalReference": f"{document.reference}:payment"[:128], "PaymentDate": document.date.isoformat(),
            "Description": f"Betaling ordre {document.order_number} ({title})"[:250]}
        if document.currency.upper() != "DKK":
            rate = self.rates.for_document(document.currency, document.date)
            if rate is None:
                return None  # no rate of ours to register it at: _unregistered_payment says so
            plan["_per_100"] = str(rate.per_100)
        return plan

    def _unregistered_payment(self, document: Document) -> str:
        """Why a paid foreign-currency invoice's payment was not registered, or ''."""
        rule = self.settings.payment_for(document.payment.method_id, document.payment.title)
        if rule.deposit_account is None or document.currency.upper() == "DKK":
            return ""
        if self.rates.for_document(document.currency, document.date) is not None:
            return ""
        return (f"its payment in {document.currency} was not registered (exchange_rates.policy: accounting_system "
                "gives no rate to register it in DKK at): register it in Dinero at the amount the bank received")

    def _pay(self, guid: str, invoice: Mapping[str, Any], plan: Mapping[str, Any], *, look_first: bool) -> None:
        """Register the payment, looked up first whenever an earlier attempt may have registered
        it; then the marker that says it is due goes."""
        reference = plan["ExternalReference"]
        if look_first and self._paid(guid, reference):
            self.memory.forget(f"payment:{guid}")
            return
        if "TimeStamp" not in invoice or "TotalInclVat" not in invoice:
            invoice = self._read(INVOICES, guid) or invoice
        total = _amount(invoice, "TotalInclVat")
        body = {"Timestamp": invoice["TimeStamp"], **{k: v for k, v in plan.items() if not k.startswith("_")},
                "Amount": total}
        if "_per_100" in plan:  # a foreign-currency invoice: the deposit in DKK, the invoice's amount beside it
            body["Amount"] = (total * Decimal(plan["_per_100"]) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            body["AmountInForeignCurrency"] = total
        subject = f"the payment of order {_order_of(reference)}"
        try:
            self.api.post(f"invoices/{guid}/payments", body, subject=subject)
        except Rejected as exc:
            if exc.code != TIMESTAMP_OUTDATED:
                raise
            if not self._paid(guid, reference):
                fresh = self._read(INVOICES, guid)
                if fresh is None:
                    raise
                self.api.post(f"invoices/{guid}/payments", {**body, "Timestamp": fresh["TimeStamp"]}, subject=subject)
        except errors.OutcomeUnknown as exc:
            if not self._paid(guid, reference):
                # Not there (yet): the booking stands and the marker stays, so the next run
                # looks the payment up once more before registering it.
                raise errors.RemoteUnavailable(f"{exc.message}; the payment was not found in Dinero and is "
                                               "looked up again before the next attempt") from None
        self.memory.forget(f"payment:{guid}")
        self._read_back.pop(guid)  # a payment moves the invoice's TimeStamp on

    def _paid(self, guid: str, reference: str) -> bool:
        answer = self.api.get(f"invoices/{guid}/payments", version="v2") or {}
        return any(p.get("ExternalReference") == reference for p in answer.get("Payments") or [])

    # --- remembered Guids ---------------------------------------------------------------
    def _write(self, build: Callable[[], Draft], write: Callable[[Draft], Any]) -> tuple[Draft, Any]:
        """Build and write; if Dinero refuses it and a contact or product remembered from an
        earlier run is gone (deleted by hand), forget it and write once more."""
        draft = build()
        try:
            return draft, write(draft)
        except Rejected as exc:
            if exc.status == 409 or not self._forget_stale(draft.body):
                raise
        draft = build()
        return draft, write(draft)

    def _forget_stale(self, body: Mapping[str, Any]) -> bool:
        used = {body.get("ContactGuid")} | {line.get("ProductGuid") for line in body.get("ProductLines") or []}

        def gone(key: str, value: str) -> bool | None:
            if value not in used:
                return None
            kind, _, name = key.partition(":")
            if kind in ("contact", "contact-exists"):
                return not self.contacts.exists(value if kind == "contact" else name)
            if kind == "product":
                return not self.products.exists(value)
            return None

        stale = self.memory.forget_gone(gone)
        if stale:
            log.warning("Dinero no longer has what an earlier run found (%s); looked up again", ", ".join(stale))
            self.contacts.cache.clear()
            self.products.cache.clear()
        return bool(stale)

    # --- the body -----------------------------------------------------------------------
    def _draft(self, document: Document, guid: str, credit_note_for: str = "") -> Draft:
        sale = treatment(document, self.settings)
        lines: list[BodyLine] = []
        for number, line in enumerate(document.lines, start=1):
            label = f"line {number}" + (f" ({line.sku})" if line.sku else f" ({line.text[:40]})" if line.text else "")
            account = account_for(line, sale, document, self.settings)
            product = ""
            if self.settings.use_products and line.kind is LineKind.PRODUCT and line.sku:
                product = self.products.guid_for(line.sku, line.text, account, line.unit_net)
            lines += body_lines(line, account, label, product)
        credit = document.kind is DocumentKind.CREDIT_NOTE
        payment = None if credit else self.settings.payment_for(document.payment.method_id, document.payment.title)
        body = document_body(
            document, guid=guid, contact_guid=self.contacts.guid_for(document.customer), lines=lines,
            description=self._description(document, credit_note_for), language=self.settings.language,
            payment=payment, credit_note_for=credit_note_for,
        )
        return Draft(body, [line.label for line in lines], sale)

    def _description(self, document: Document, credit_note_for: str) -> str:
        from iexsync import templates  # jinja2 only when a document is written

        context = {"order": _OrderView(document), "document": document}
        try:
            header = templates.render(self.settings.header, context)
        except Exception as exc:  # noqa: BLE001 - any failure inside an admin's template
            raise errors.MappingError(f"accounting.header ({self.settings.header}) fails on this order: {exc}") from None
        if document.kind is DocumentKind.CREDIT_NOTE:
            english = self.settings.language == "en-GB"
            prefix = "Credit note" if english else "Kreditnota"
            return f"{prefix}: {header}" + (f" (refund {document.refund_id})" if english else f" (refusion {document.refund_id})")
        return header

    def _put(self, place: Place, guid: str, draft: Draft, current: dict[str, Any], subject: str) -> Any:
        """PUT the whole draft with its current TimeStamp; a stale one (code 58) is read again
        and the PUT tried once more, only if the document is still a draft."""
        path = f"{place.path}/{guid}"
        try:
            return self.api.put(path, {"Timestamp": current["TimeStamp"], **draft.body}, subject=subject,
                                line_labels=draft.labels, version="v1.2")
        except Rejected as exc:
            if exc.code != TIMESTAMP_OUTDATED:
                raise
        fresh = self._read(place, guid)
        if fresh is None or fresh.get("Status") != "Draft":
            raise errors.RemoteRejected(f"{place.name} {guid} was booked or deleted in Dinero meanwhile; "
                                        "a booked document is never changed")
        log.info("%s %s changed in Dinero since it was read; written again with its new TimeStamp", place.name, guid)
        return self.api.put(path, {"Timestamp": fresh["TimeStamp"], **draft.body}, subject=subject,
                            line_labels=draft.labels, version="v1.2")

    def _current_draft(self, place: Place, guid: str, ref: DocumentRef) -> dict[str, Any]:
        current = self._read(place, guid)
        if current is None:
            raise errors.RemoteRejected(f"{_name(ref)} is no longer in Dinero (deleted there?)")
        if current.get("Status") != "Draft":
            raise errors.RemoteRejected(f"{_name(ref)} was booked in Dinero meanwhile as {place.name} "
                                        f"{current.get('Number')}; a booked document is never changed")
        return current

    def _guid(self, ref: DocumentRef, place: Place) -> str:
        """The document's Guid: as recorded, else found by its reference."""
        own = _own_guid(ref)
        if own:
            return own
        found = self.find(ref.reference, place.kind)
        if found is None:
            raise errors.RemoteRejected(f"{_name(ref)} ({ref.reference}) is not in Dinero (deleted there?)")
        return found.remote_id

    # --- totals -------------------------------------------------------------------------
    def _totals_problem(self, document: Document, remote: Totals) -> str | None:
        return totals_problem(document.totals, remote, self.settings.tolerance, document.currency, "Dinero",
                              "check the VAT codes of the accounts in accounting.accounts")

    def _settle(self, document: Document, place: Place, item: dict[str, Any], draft: Draft) -> DocumentRef:
        """The draft as Dinero computed it, checked against the shop's totals by `totals.on_mismatch`."""
        ref = self._ref(place, item, document.reference)
        assert ref.totals is not None
        problem = self._totals_problem(document, ref.totals)
        if problem is None:
            self._held.pop(document.reference, None)
            return ref
        problem = f"{problem} ({draft.sale.kind.value}: {draft.sale.describe()})"
        policy = self.settings.on_mismatch
        if policy == "ignore":
            log.info("%s: %s; booked anyway (totals.on_mismatch: ignore)", document.reference, problem)
            return ref
        if policy == "draft":
            self._held[document.reference] = problem
            log.warning("%s: %s", document.reference, problem)
            return ref
        difference = document.totals.gross - ref.totals.gross
        correction = {"Description": "Totals correction", "Quantity": Decimal(1),
                      "AccountNumber": int(self.settings.accounts.get("rounding") or self.settings.accounts["sales_vat_free"]),
                      "Unit": "parts", "Discount": Decimal(0), "LineType": "Product", "BaseAmountValue": difference}
        corrected = Draft({**draft.body, "ProductLines": [*draft.body["ProductLines"], correction]},
                          [*draft.labels, "the correction line"], draft.sale)
        self._put(place, ref.remote_id, corrected, item, _subject(document))
        log.warning("%s: %s; a correction line of %s was added", document.reference, problem, difference)
        fresh = self._read(place, ref.remote_id)
        return self._ref(place, fresh, document.reference) if fresh is not None else ref

    # --- reading answers ----------------------------------------------------------------
    def _ref(self, place: Place, item: Mapping[str, Any], reference: str) -> DocumentRef:
        guid = str(item.get("Guid") or document_guid(reference))
        booked = item.get("Status") not in (None, "Draft")
        number = str(item.get("Number")) if booked and item.get("Number") is not None else guid
        return DocumentRef(reference=reference, kind=place.kind, number=number, remote_id=guid, booked=booked,
                           totals=_totals(item))


class _OrderView:
    """What `accounting.header` sees as `order`: the document's order, by the names the
    `mappings` templates use."""

    def __init__(self, document: Document):
        self.number = document.order_number
        self.id = document.order_id
        self.currency = document.currency
        self.customer = document.customer
        self.date = document.date
        self.totals = document.totals
        self.payment = document.payment


def _own_guid(ref: DocumentRef) -> str:
    """The Guid the log recorded for the document (a draft's number is its Guid), or ""."""
    for value in (ref.remote_id, ref.number):
        if _UUID.match(value or ""):
            return value
    return ""


def _totals(item: Mapping[str, Any]) -> Totals:
    gross = _amount(item, "TotalInclVat")
    net = _amount(item, "TotalExclVat")
    vat = _amount(item, "TotalVat") if "TotalVat" in item else gross - net
    return Totals(net=net, vat=vat, gross=gross)


def _amount(item: Mapping[str, Any], key: str) -> Decimal:
    value = item.get(key) or 0
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _order_of(reference: str) -> str:
    parts = reference.split(":")
    return parts[2] if len(parts) > 2 else reference


def _subject(document: Document) -> str:
    what = {"invoice": "invoice draft", "order": "order", "credit_note": "credit note"}[document.kind.value]
    return f"the {what} for order {document.order_number}"


def _name(ref: DocumentRef) -> str:
    what = "credit note" if ref.kind is DocumentKind.CREDIT_NOTE else "invoice"
    return f"{what} {ref.number}" if ref.booked else f"{what} draft {ref.number}"
