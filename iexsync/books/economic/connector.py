"""The e-conomic books connector: invoice drafts, order drafts, booking, credit notes.

How it keeps the engine's exactly-once promise:
- every document carries its reference in `references.other`, which is filterable on
  invoice drafts, booked invoices and order drafts, so `find` can always locate it;
- a POST whose answer never came raises OutcomeUnknown and is never repeated here;
  the engine resolves it with `find`. Only PUT (a whole-document replace) is re-sent;
- `credit` looks first whenever the engine says an earlier attempt may have written the
  credit note (`resume`), so a refund is credited once even if its answer was lost.

e-conomic computes VAT itself, from the recipient's VAT zone and each product's group
(`vat` picks the zone from what the shop charged). Its totals come back on
the draft and are checked against the shop's within `totals.tolerance`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from iexsync import errors
from iexsync.books.base import Memory
from iexsync.books.economic.api import EconomicApi, TooManyPages, filter_value
from iexsync.books.economic.body import BodyLine, draft_body, exact_lines
from iexsync.toolkit.cache import OnceCache, Recent, Remembered
from iexsync.toolkit.totals import totals_problem
from iexsync.books.economic.config import CONFIG_SCHEMA, EconomicSettings
from iexsync.books.economic.customers import CustomerDirectory
from iexsync.books.economic.products import ProductCatalog
from iexsync.books.economic.vat import ZoneChoice, choose_zone
from iexsync.exchange import ExchangeRates
from iexsync.document import Document, DocumentKind, DocumentLine, DocumentRef
from iexsync.model import LineKind, Totals
from iexsync.money import ZERO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """A collection a document can be in, and the number that names it there."""

    path: str
    number_key: str
    booked: bool
    kind: DocumentKind


BOOKED = Place("invoices/booked", "bookedInvoiceNumber", True, DocumentKind.INVOICE)
INVOICE_DRAFTS = Place("invoices/drafts", "draftInvoiceNumber", False, DocumentKind.INVOICE)
ORDER_DRAFTS = Place("orders/drafts", "orderNumber", False, DocumentKind.ORDER)
# Booked first: if a draft and a booked invoice both carried a reference, the booked one counts.
SEARCHED = (
    BOOKED,
    INVOICE_DRAFTS,
    ORDER_DRAFTS,
    Place("orders/sent", "orderNumber", False, DocumentKind.ORDER),
    Place("orders/archived", "orderNumber", False, DocumentKind.ORDER),
)


@dataclass(frozen=True)
class InvoiceHead:
    """What a credit note copies from the booked invoice it credits."""

    customer_number: int
    vat_zone: int
    layout: int
    payment_terms: int

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> "InvoiceHead":
        return cls(
            customer_number=int(item["customer"]["customerNumber"]),
            vat_zone=int(item["recipient"]["vatZone"]["vatZoneNumber"]),
            layout=int(item["layout"]["layoutNumber"]),
            payment_terms=int(item["paymentTerms"]["paymentTermsNumber"]),
        )


# How many recent answers a run remembers for the next step of the same order (a draft's
# totals for its booking, a booked invoice's head for its credit note).
REMEMBERED = 512
# A fresh log's listing of what iexsync wrote holds at most this many pages of 1,000 per
# collection (a DocumentRef each); past it, each reference is looked up alone.
LISTED_PAGES = 100


@dataclass(frozen=True)
class Draft:
    body: dict[str, Any]
    labels: list[str]  # per body line: the document line it came from, for error messages
    zone: ZoneChoice


class EconomicBooks:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = CONFIG_SCHEMA
    name = "economic"
    # `iexsync config init`'s section (nothing to ask: the tokens come from the environment)
    starter = """accounting:
  system: economic
  app_secret_token: ${{ECONOMIC_APP_SECRET_TOKEN}}
  agreement_grant_token: ${{ECONOMIC_AGREEMENT_GRANT_TOKEN}}
"""
    starter_at = None
    max_workers: ClassVar[int | None] = None  # as many as transfer.workers: the rate limit paces them

    def __init__(self, settings: EconomicSettings, api: EconomicApi | None = None):
        self.settings = settings
        self.api = api or EconomicApi(
            settings.url,
            settings.app_secret_token,
            settings.agreement_grant_token,
            allow_insecure_http=settings.allow_insecure_http,
            rate_limit=settings.rate_limit,
            timeout=settings.timeout,
            ca_bundle=settings.ca_bundle,
        )
        self.customers = CustomerDirectory(self.api, settings)
        self.products = ProductCatalog(self.api, settings)
        self._layouts: OnceCache[int] = OnceCache()
        self.memory = Remembered()
        self.rates = ExchangeRates(settings.exchange_rates, timeout=settings.timeout)
        self._held: dict[str, str] = {}  # reference → why its totals keep it from being booked
        self._remote_totals: Recent[str, Totals] = Recent(REMEMBERED)  # reference → e-conomic's totals, until booked
        self._heads: Recent[str, InvoiceHead] = Recent(REMEMBERED)  # booked invoice number → its head

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "EconomicBooks":
        return cls(EconomicSettings.from_section(section, base_dir))

    def use_memory(self, memory: Memory) -> None:
        """Remember customer numbers, products and the layout in the log, per agreement: the
        prefix is a digest of the address and the grant token (never the token itself), so
        another agreement's numbers are never taken for this one's."""
        agreement = hashlib.sha256(f"{self.settings.url}\n{self.settings.agreement_grant_token}".encode()).hexdigest()[:16]
        self.memory = Remembered(memory, f"economic:{agreement}:")
        self.customers.memory = self.products.memory = self.memory
        self.rates.memory = memory  # a rate is the same for every agreement: kept without its prefix

    def check(self) -> None:
        self.api.get("self")  # 401/403 raise CredentialsRejected

    def close(self) -> None:
        self.api.close()

    # --- finding ------------------------------------------------------------------------
    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        """The document carrying `reference`: 1 to 5 filtered GETs.

        With `kind` an invoice or credit note, only the invoice collections are searched
        (2 GETs when it is absent): an invoice never turns into an order. An order may be
        upgraded to an invoice draft in e-conomic, so it is looked for everywhere.
        """
        query = f"references.other$eq:{filter_value(reference)}"
        places = SEARCHED
        if kind in (DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE):
            places = (BOOKED, INVOICE_DRAFTS)
        elif kind is DocumentKind.ORDER:
            places = (ORDER_DRAFTS, *(p for p in SEARCHED if p is not ORDER_DRAFTS))
        for place in places:
            found = [item for item in self.api.collection(place.path, query) if _reference(item) == reference]
            if found:
                return self._ref(place, found[0], reference)
        return None

    def known_references(self, prefix: str, since: date | None = None) -> dict[str, DocumentRef] | None:
        """Every document whose reference starts with `prefix` (dated `since` or later): one
        filtered listing per collection, 1,000 a page, in place of a `find` per document.
        None when there are more than LISTED_PAGES pages in a collection: too many to hold."""
        query = f"references.other$like:{filter_value(prefix)}*"
        if since is not None:
            query += f"$and:date$gte:{since.isoformat()}"
        known: dict[str, DocumentRef] = {}
        for place in SEARCHED:  # booked first: it counts if a draft carries the same reference
            try:
                items = self.api.collection(place.path, query, max_pages=LISTED_PAGES)
            except TooManyPages:
                return None
            for item in items:
                reference = _reference(item)
                if reference.startswith(prefix) and reference not in known:
                    known[reference] = self._ref(place, item, reference)
        return known

    def status(self, ref: DocumentRef) -> DocumentRef | None:
        """The document as e-conomic has it now. A draft still in its collection: one GET.
        Gone from there (booked by hand, converted, deleted): looked for by its reference."""
        if ref.booked:
            return ref  # booked is for good
        place = ORDER_DRAFTS if ref.kind is DocumentKind.ORDER else INVOICE_DRAFTS
        if ref.number.isdigit():
            item = self.api.get(f"{place.path}/{ref.number}", missing_ok=True)
            if item is not None:
                return self._ref(place, item, ref.reference)
        return self.find(ref.reference, ref.kind)

    # --- writing ------------------------------------------------------------------------
    def delete(self, ref: DocumentRef) -> DocumentRef | None:
        """Delete an invoice or order draft. Already gone: looked up, in case it was booked
        (then returned, untouched) rather than deleted by hand."""
        if ref.booked:
            return ref
        place = ORDER_DRAFTS if ref.kind is DocumentKind.ORDER else INVOICE_DRAFTS
        if self.api.delete(f"{place.path}/{int(ref.number)}", subject=f"the deletion of {_name(ref)}"):
            return None
        found = self.find(ref.reference, ref.kind)
        if found is None or found.booked:
            return found
        # Still a draft, elsewhere (an order marked sent): delete it where it is.
        return None if self.api.delete(found.remote_id, subject=f"the deletion of {_name(found)}") else found

    def create(self, document: Document) -> DocumentRef:
        if document.kind is DocumentKind.CREDIT_NOTE:
            original = self.find(document.credits_reference, DocumentKind.INVOICE) if document.credits_reference else None
            if original is None:
                raise errors.MappingError(
                    f"credit note {document.reference}: the document it credits "
                    f"({document.credits_reference or 'none named'}) is not in e-conomic"
                )
            return self.credit(original, document)
        place = ORDER_DRAFTS if document.kind is DocumentKind.ORDER else INVOICE_DRAFTS
        draft, created = self._write(
            lambda: self._draft(document),
            lambda draft: self.api.post(place.path, draft.body, subject=_subject(document), line_labels=draft.labels),
        )
        return self._settle_totals(document, self._ref(place, created, document.reference), draft, place)

    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        if ref.booked:
            raise errors.RemoteRejected(f"{_name(ref)} is booked in e-conomic; a booked document is never changed")
        place = ORDER_DRAFTS if ref.kind is DocumentKind.ORDER else INVOICE_DRAFTS
        try:
            draft, updated = self._write(
                lambda: self._draft(document), lambda draft: self._put_draft(place, ref.number, draft, _subject(document))
            )
        except errors.RemoteRejected:
            self._explain_missing_draft(place, ref)
            raise
        return self._settle_totals(document, self._ref(place, updated, document.reference), draft, place)

    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        """Book an invoice draft. Pass `document` to have its totals checked first."""
        if ref.booked:
            return ref
        if ref.kind is DocumentKind.ORDER:
            raise errors.RemoteRejected(
                f"{_name(ref)} is an order; e-conomic books invoices, so transfer the order as an invoice to book it"
            )
        if document is not None and self.settings.on_mismatch == "draft":
            # A later run knows nothing of this run's checks: compare again with e-conomic's totals.
            remote = ref.totals or self._remote_totals.get(ref.reference) or self._draft_totals(ref)
            problem = self._totals_problem(document, remote) if remote is not None else None
            if problem:
                self._held[ref.reference] = problem
            else:
                self._held.pop(ref.reference, None)
        held = self._held.get(ref.reference)
        if held and self.settings.on_mismatch == "draft":
            raise errors.RemoteRejected(f"{held}; {_name(ref)} was left unbooked for you to check")
        try:
            booked = self.api.post(
                BOOKED.path,
                {"draftInvoice": {"draftInvoiceNumber": int(ref.number)}},
                subject=f"the booking of {_name(ref)}",
            )
        except errors.RemoteRejected:
            found = self.find(ref.reference, DocumentKind.INVOICE)  # booked already, by an earlier run or by hand?
            if found is not None and found.booked:
                return found
            raise
        self._remote_totals.pop(ref.reference)  # booked: never checked again
        result = self._ref(BOOKED, booked, ref.reference)
        self._remember_head(result.number, booked)
        return result

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        """Write and book the credit note `document` (positive amounts) against the booked `ref`.

        `resume`: an earlier attempt may have written it, so look first and finish what is
        there rather than write again. Otherwise the engine knows no attempt was made."""
        if resume:
            existing = self.find(document.reference, DocumentKind.CREDIT_NOTE)
            if existing is not None:  # an earlier attempt got this far: finish it, never repeat it
                return existing if existing.booked else self.book(existing)
        if ref.kind is not DocumentKind.INVOICE or not ref.booked:
            raise errors.RemoteRejected(
                f"refund {document.refund_id or document.reference}: {_name(ref)} is not a booked invoice; "
                "only a booked invoice can be credited, so book it first"
            )
        head = self._invoice_head(ref, document)
        fields = {  # the admin's heading, still saying what is credited
            key: f"Credit note for invoice {ref.number}: {value}" if key in ("heading", "notes.heading") else value
            for key, value in document.fields.items()
        }
        document = replace(document, fields=fields)
        domestic = head.vat_zone == self.settings.vat_zones["domestic"]
        subject = f"the credit note for refund {document.refund_id} of order {document.order_number}"
        draft, created = self._write(
            lambda: self._draft(
                document,
                zone=ZoneChoice("domestic" if domestic else "as invoiced", head.vat_zone),
                customer_number=head.customer_number,
                layout=head.layout,
                payment_terms=head.payment_terms,
                heading=f"Credit note for invoice {ref.number}, order {document.order_number}",
            ),
            lambda draft: self.api.post(INVOICE_DRAFTS.path, draft.body, subject=subject, line_labels=draft.labels),
        )
        draft_ref = self._settle_totals(document, self._ref(INVOICE_DRAFTS, created, document.reference), draft, INVOICE_DRAFTS)
        return replace(self.book(draft_ref), remarks=draft_ref.remarks)

    def _invoice_head(self, ref: DocumentRef, document: Document) -> InvoiceHead:
        """The booked invoice's customer, zone, layout and terms: remembered from its
        booking in this run, or read."""
        head = self._heads.get(ref.number)
        if head is not None:
            return head
        original = self.api.get(f"{BOOKED.path}/{ref.number}", missing_ok=True)
        if original is None:
            raise errors.RemoteRejected(f"refund {document.refund_id}: booked invoice {ref.number} is not in e-conomic")
        return InvoiceHead.of(original)

    def _remember_head(self, number: str, booked: Mapping[str, Any]) -> None:
        try:
            head = InvoiceHead.of(booked)
        except (KeyError, TypeError, ValueError):
            return  # an answer without them: a refund reads the invoice instead
        self._heads.put(number, head)

    # --- remembered numbers ------------------------------------------------------------
    def _write(self, build: Callable[[], Draft], write: Callable[[Draft], Any]) -> tuple[Draft, Any]:
        """Build and write a draft. If e-conomic rejects it and a number remembered from an
        earlier run turns out gone (deleted by hand), forget it and write once more with a
        fresh one: a rejected write wrote nothing."""
        draft = build()
        try:
            return draft, write(draft)
        except errors.RemoteRejected:
            if not self._forget_stale(draft.body):
                raise
        draft = build()
        return draft, write(draft)

    def _forget_stale(self, body: Mapping[str, Any]) -> bool:
        """Check the remembered numbers this body uses; forget those e-conomic no longer has."""
        customer = str(body["customer"]["customerNumber"])
        products = {str(line["product"]["productNumber"]) for line in body["lines"] if "product" in line}
        layout = str(body["layout"]["layoutNumber"])

        def gone(key: str, value: str) -> bool | None:
            kind, _, name = key.partition(":")
            if kind == "customer" and value == customer or kind == "customer-exists" and name == customer:
                return not self.customers.exists(int(customer))
            if kind == "product" and name in products:
                return not self.products.exists(name)
            if kind == "layout" and value == layout:
                return self.api.get(f"layouts/{layout}", missing_ok=True) is None
            return None

        stale = self.memory.forget_gone(gone)
        if stale:
            log.warning("e-conomic no longer has what an earlier run found (%s); looked up again", ", ".join(stale))
            self.customers.cache.clear()
            self.products.cache.clear()
            self._layouts.clear()
        return bool(stale)

    # --- the draft body -----------------------------------------------------------------
    def _draft(
        self,
        document: Document,
        *,
        zone: ZoneChoice | None = None,
        customer_number: int | None = None,
        layout: int | None = None,
        payment_terms: int | None = None,
        heading: str | None = None,
    ) -> Draft:
        zone = zone or choose_zone(document, self.settings)
        lines = self._lines(document, zone)
        if customer_number is None:
            customer_number = self.customers.number_for(document.customer, document.currency)
        terms = self.settings.terms_for(document.payment.method_id, document.payment.title)
        rate = self.rates.for_document(document.currency, document.date)
        body = draft_body(
            document,
            customer_number=customer_number,
            vat_zone=zone.number,
            layout=layout or terms.layout or self._first_layout(),
            payment_terms=payment_terms or terms.payment_terms or self.settings.customer_payment_terms,
            lines=lines,
            heading=heading or f"Order {document.order_number}",
            negate=document.kind is DocumentKind.CREDIT_NOTE,
            exchange_rate=rate.per_100 if rate else None,
        )
        return Draft(body, [line.label for line in lines], zone)

    def _lines(self, document: Document, zone: ZoneChoice) -> list[BodyLine]:
        result: list[BodyLine] = []
        for number, line in enumerate(document.lines, start=1):
            label = f"line {number}"
            product_number = self._product_for(document, line, zone, label)
            result += exact_lines(line, product_number, f"{label} ({product_number})")
        return result

    def _product_for(self, document: Document, line: DocumentLine, zone: ZoneChoice, label: str) -> str:
        vat_free = zone.applies_home_vat and line.vat_rate == ZERO
        credit = document.kind is DocumentKind.CREDIT_NOTE

        def special(role: str) -> str:
            return self.products.special(f"{role}_vat_free" if vat_free else role)

        if line.kind is LineKind.GIFT_CARD:  # a liability: its own product group's account, never revenue
            return self.products.gift_card()
        if line.kind is LineKind.SHIPPING:
            return special("shipping")
        if line.kind is LineKind.DISCOUNT:
            return special("discount")
        if line.kind is LineKind.FEE:
            if _is_rounding(line):
                return self.products.special("rounding")
            return special("fee")
        if line.kind is LineKind.REFUND:  # a refund's amount that no returned line accounts for
            return special("refund")
        if line.sku:
            return self.products.product(line.sku, line.text, vat_free, line.unit_net, label)
        if self.settings.default_sku:
            return self.products.product(self.settings.default_sku, "Products without SKU", vat_free, None, label)
        if credit:
            return special("refund")
        raise errors.MappingError(
            f"{label} ({line.text!r}) has no SKU; give the product a SKU in the shop, "
            "or set accounting.products.default_sku"
        )

    def _first_layout(self) -> int:
        def first() -> int:
            remembered = self.memory.recall("layout:first")
            if remembered is not None:
                return int(remembered)
            layouts = self.api.collection("layouts")
            if not layouts:
                raise errors.MappingError("the e-conomic agreement has no layouts; set accounting.layout")
            number = min(int(item["layoutNumber"]) for item in layouts)
            self.memory.remember("layout:first", str(number))
            return number

        return self._layouts.get("first", first)

    def _put_draft(self, place: Place, number: str, draft: Draft, subject: str) -> Any:
        body = {**draft.body, place.number_key: int(number)}
        return self.api.put(f"{place.path}/{number}", body, subject=subject, line_labels=draft.labels)

    def _explain_missing_draft(self, place: Place, ref: DocumentRef) -> None:
        """A PUT to a draft that is gone: say where the document went instead of 'not found'."""
        if self.api.get(f"{place.path}/{ref.number}", missing_ok=True) is not None:
            return
        found = self.find(ref.reference, ref.kind)
        if found is not None and found.booked:
            raise errors.RemoteRejected(
                f"{_name(ref)} was booked in e-conomic meanwhile as invoice {found.number}; "
                "a booked document is never changed"
            )
        raise errors.RemoteRejected(f"{_name(ref)} is no longer in e-conomic (deleted there?)")

    # --- totals ------------------------------------------------------------------------
    def _totals_problem(self, document: Document, remote: Totals) -> str | None:
        return totals_problem(document.totals, remote, self.settings.tolerance, document.currency, "e-conomic",
                              "check the VAT zone and the products' groups")

    def _draft_totals(self, ref: DocumentRef) -> Totals | None:
        draft = self.api.get(f"{INVOICE_DRAFTS.path}/{ref.number}", missing_ok=True)
        return None if draft is None else self._ref(INVOICE_DRAFTS, draft, ref.reference).totals

    def _settle_totals(self, document: Document, ref: DocumentRef, draft: Draft, place: Place) -> DocumentRef:
        ref = self._settle(document, ref, draft, place)
        assert ref.totals is not None
        self._remote_totals.put(document.reference, ref.totals)
        return ref

    def _settle(self, document: Document, ref: DocumentRef, draft: Draft, place: Place) -> DocumentRef:
        """e-conomic's totals against the shop's: equal, or the difference said in the ref's remarks.

        Within `totals.tolerance` (or beyond it with `on_mismatch: correction_line`) a line on
        the rounding product closes the gross, so the document is what the customer paid; the
        VAT e-conomic computed (it rounds VAT once per rate, a shop per line) is then remarked
        on if it still differs. Beyond it, `draft` holds the invoice unbooked and `ignore`
        books it: both say so. The tolerance decides which, never whether it is said."""
        assert ref.totals is not None
        expected, remote, currency = document.totals, ref.totals, document.currency
        if (expected.gross, expected.vat) == (remote.gross, remote.vat):
            self._held.pop(document.reference, None)
            return ref
        problem = self._totals_problem(document, remote)
        policy = self.settings.on_mismatch
        if problem is not None and policy == "draft":
            problem = f"{problem} (zone {draft.zone.kind})"
            self._held[document.reference] = problem
            log.warning("%s: %s", document.reference, problem)
            return replace(ref, remarks=(f"{problem}; it stays unbooked until that is fixed",))
        if problem is not None and policy == "ignore":
            log.info("%s: %s; booked anyway (totals.on_mismatch: ignore)", document.reference, problem)
            return replace(ref, remarks=(f"{problem} (zone {draft.zone.kind}); booked anyway (totals.on_mismatch: ignore)",))
        self._held.pop(document.reference, None)
        difference = expected.gross - remote.gross
        remarks = []
        if difference:
            ref = self._correct(document, ref, draft, place, difference)
            remarks.append(f"e-conomic computed {remote.gross} {currency} (VAT {remote.vat}) where the shop's total is "
                           f"{expected.gross} (VAT {expected.vat}): a correction line of {difference:+} on the rounding "
                           "product makes it what the customer paid")
            log.warning("%s: %s", document.reference, remarks[-1])
        assert ref.totals is not None
        if ref.totals.vat != expected.vat:
            remarks.append(f"e-conomic's VAT is {ref.totals.vat} {currency}, the shop charged {expected.vat} "
                           f"({ref.totals.vat - expected.vat:+}; e-conomic rounds VAT once per rate, the shop per line)")
        return replace(ref, remarks=tuple(remarks))

    def _correct(self, document: Document, ref: DocumentRef, draft: Draft, place: Place, difference: Decimal) -> DocumentRef:
        """The draft again with a line on the rounding product for `difference` (gross, no VAT)."""
        sign = Decimal(-1) if document.kind is DocumentKind.CREDIT_NOTE else Decimal(1)
        correction = {
            "lineNumber": len(draft.body["lines"]) + 1,
            "sortKey": len(draft.body["lines"]) + 1,
            "product": {"productNumber": self.products.special("rounding")},
            "description": "Totals correction",
            "quantity": Decimal(1),
            "unitNetPrice": sign * difference,
        }
        corrected = Draft({**draft.body, "lines": [*draft.body["lines"], correction]}, [*draft.labels, "the correction line"], draft.zone)
        updated = self._put_draft(place, ref.number, corrected, _subject(document))
        return self._ref(place, updated, document.reference)

    # --- reading answers ---------------------------------------------------------------
    def _ref(self, place: Place, item: Mapping[str, Any], reference: str) -> DocumentRef:
        number = str(item[place.number_key])
        totals = Totals(
            net=_amount(item, "netAmount"), vat=_amount(item, "vatAmount"), gross=_amount(item, "grossAmount")
        )
        kind = place.kind
        if place.kind is DocumentKind.INVOICE and (totals.gross < 0 or _has_negative_lines(item)):
            kind = DocumentKind.CREDIT_NOTE
            totals = Totals(-totals.net, -totals.vat, -totals.gross)  # our documents carry positive amounts
        return DocumentRef(
            reference=reference,
            kind=kind,
            number=number,
            remote_id=f"{place.path}/{number}",
            booked=place.booked,
            totals=totals,
        )


def _is_rounding(line: DocumentLine) -> bool:
    # The mapping's rounding line: a VAT-free fee without SKU named "Rounding".
    return line.kind is LineKind.FEE and not line.sku and line.vat == ZERO and line.text == "Rounding"


def _has_negative_lines(item: Mapping[str, Any]) -> bool:
    lines = item.get("lines") or []
    return bool(lines) and _amount(item, "grossAmount") == 0 and any(Decimal(l.get("quantity", 0)) < 0 for l in lines)


def _reference(item: Mapping[str, Any]) -> str:
    return str((item.get("references") or {}).get("other", ""))


def _amount(item: Mapping[str, Any], key: str) -> Decimal:
    value = item.get(key, ZERO)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _subject(document: Document) -> str:
    what = {"invoice": "invoice draft", "order": "order draft", "credit_note": "credit note"}[document.kind.value]
    return f"the {what} for order {document.order_number}"


def _name(ref: DocumentRef) -> str:
    if ref.booked:
        return f"invoice {ref.number}"
    return f"order draft {ref.number}" if ref.kind is DocumentKind.ORDER else f"invoice draft {ref.number}"
