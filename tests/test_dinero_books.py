"""The Dinero connector against the fake, over real HTTP on loopback.

Documents are built from the demo's WooCommerce orders by the real reader and mapping, so
"to the cent" means: what the shop says the customer paid is what Dinero computes. Every
body is validated by the fake against Dinero's official OpenAPI document (or, without the
vendor folder, our own schema of the fields we send): an invalid one would be a 400 here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from iexsync import errors
from iexsync.books.dinero.connector import document_guid
from iexsync.config import Settings
from iexsync.document import DocumentKind
from iexsync.store import Store
from tests.fakes.dinero import FakeDinero
from tests.fakes.economic import fault_once
from tests.fakes.server import Fault, FakeServer, Recorded
from tests.test_dinero_support import WINDOW, connect, demo_order, dinero, dinero_server, invoice, plug, settings_for  # noqa: F401

D = Decimal
STRIPE = {"methods": {"stripe": {"condition": "Paid", "deposit_account": 55010}}}


@pytest.fixture(scope="module")
def settings(dinero_server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("dinero"), dinero_server.url)


def accounts_of(fake: FakeDinero, guid: str) -> list[int]:
    return [line["AccountNumber"] for line in fake.invoices[guid]["ProductLines"]]


# --- drafts, VAT and totals ------------------------------------------------------------------
def test_demo_invoices_land_as_drafts_with_the_shops_totals_to_the_cent(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    accounts = {}
    for number in (1001, 1002, 1003, 1004, 1006):
        order = demo_order(number)
        document = invoice(settings, order)
        ref = books.create(document)
        assert ref.totals == document.totals and ref.totals.gross == order.shop_total, number
        assert not ref.booked and ref.remote_id == document_guid(document.reference)
        stored = dinero.invoices[ref.remote_id]
        assert stored["ExternalReference"] == document.reference and stored["Status"] == "Draft"
        assert stored["Description"] == f"Ordre {number}"
        accounts[number] = sorted(set(accounts_of(dinero, ref.remote_id)))
    # 1002 sells a 0 % book beside 25 % goods; 1004 is a German business without VAT (reverse charge)
    assert accounts == {1001: [1000], 1002: [1000, 1010], 1003: [1000], 1004: [1020], 1006: [1000]}


def test_an_eu_consumer_charged_their_own_vat_goes_on_the_oss_account(dinero, dinero_server, settings) -> None:
    from tests.test_dinero_rules import document as rules_document

    german = rules_document("DE", "19", taxed_in="DE")
    german = replace(german, reference="iexsync:woocommerce:77:invoice",
                     customer=replace(german.customer, email="kunde@example.de"))
    with pytest.raises(errors.MappingError, match="accounting.oss_accounts.DE or accounting.accounts.sales_oss"):
        connect(dinero_server).create(german)
    assert dinero.count("POST /invoices") == 0
    ref = connect(dinero_server, accounts={"sales_oss": 1040}).create(german)
    assert set(accounts_of(dinero, ref.remote_id)) == {1040} and ref.totals == german.totals  # 19 % on the OSS account


def test_an_order_document_is_refused_with_what_to_configure(dinero, dinero_server, settings) -> None:
    document = invoice(settings, demo_order(1005), DocumentKind.ORDER)
    with pytest.raises(errors.MappingError, match="Dinero has no order documents; make this state an invoice draft"):
        connect(dinero_server).create(document)


def test_totals_that_differ_keep_the_invoice_unbooked(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, accounts={"shipping": 1010})  # a VAT-free account for taxed shipping
    document = invoice(settings, demo_order(1001))
    ref = books.create(document)
    assert ref.totals.vat == D("317.00")  # the shipping's 12.25 VAT is missing
    with pytest.raises(errors.RemoteRejected, match="totals differ: the shop says 1646.25 DKK .* Dinero computed 1634.00"):
        books.book(ref, document)
    assert dinero.count("POST /invoices/{guid}/book") == 0 and dinero.invoices[ref.remote_id]["Status"] == "Draft"


def test_a_correction_line_makes_the_gross_equal_the_shops(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, accounts={"shipping": 1010}, totals={"on_mismatch": "correction_line"})
    document = invoice(settings, demo_order(1001))
    ref = books.create(document)
    assert ref.totals.gross == D("1646.25")
    assert dinero.invoices[ref.remote_id]["ProductLines"][-1]["Description"] == "Totals correction"
    assert books.book(ref, document).booked


# --- booking, updating, the Timestamp rule ---------------------------------------------------
def test_booking_numbers_the_invoice(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    numbers = [books.book(books.create(invoice(settings, demo_order(n))), None).number for n in (1001, 1002)]
    assert numbers == ["1", "2"]
    body = dinero.received("POST /invoices/{guid}/book")[0]
    assert set(body) == {"Timestamp"}


def test_a_changed_draft_is_updated_in_place_with_its_current_timestamp(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    first = invoice(settings, demo_order(1001))
    ref = books.create(first)
    stamp = dinero.invoices[ref.remote_id]["TimeStamp"]
    changed = invoice(settings, demo_order(1001, shipping_lines=[], shipping_total="0.00", shipping_tax="0.00",
                                           total="1585.00", total_tax="317.00"))
    updated = books.update(ref, changed)
    assert updated.remote_id == ref.remote_id and updated.totals.gross == D("1585.00")
    assert [b["Timestamp"] for b in dinero.received("PUT /v1.2/invoices/{guid}")] == [stamp]
    assert len(dinero.invoices) == 1


def bump_on(fake: FakeDinero, method: str, path_tail: str, times: int = 1):
    """A `faults=` callable: someone edits the document in Dinero just before our write arrives."""
    left = [times]

    def faults(request: Recorded):
        if request.method == method and request.path.endswith(path_tail) and left[0] > 0:
            left[0] -= 1
            guid = next(g for g in [*fake.invoices, *fake.creditnotes] if g in request.path)
            fake.bump(guid)
        return None

    return faults


def test_a_stale_timestamp_is_read_again_and_the_update_tried_once_more(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.create(invoice(settings, demo_order(1001)))
    dinero_server.faults = bump_on(dinero, "PUT", ref.remote_id)
    changed = invoice(settings, demo_order(1001, customer_note="Leave at the door"))
    changed = replace(changed, fields={"comment": "Leave at the door"})
    books.update(ref, changed)
    puts = dinero.received("PUT /v1.2/invoices/{guid}")
    assert len(puts) == 2 and puts[0]["Timestamp"] != puts[1]["Timestamp"]
    assert dinero.invoices[ref.remote_id]["Comment"] == "Leave at the door"


def test_a_stale_timestamp_twice_is_an_error_not_a_loop(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.create(invoice(settings, demo_order(1001)))
    dinero_server.faults = bump_on(dinero, "PUT", ref.remote_id, times=5)
    with pytest.raises(errors.RemoteRejected, match=r"\(code 58\)"):
        books.update(ref, replace(invoice(settings, demo_order(1001)), fields={"comment": "x"}))
    assert len(dinero.received("PUT /v1.2/invoices/{guid}")) == 2


def test_a_stale_timestamp_on_booking_is_read_again_and_booked_once(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    document = invoice(settings, demo_order(1001))
    ref = books.create(document)
    dinero_server.faults = bump_on(dinero, "POST", "/book")
    assert books.book(ref, document).number == "1"
    assert dinero.count("POST /invoices/{guid}/book") == 2


def test_a_draft_booked_by_hand_meanwhile_is_never_changed(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    document = invoice(settings, demo_order(1001))
    ref = books.create(document)
    connect(dinero_server).book(ref)  # someone else books it
    with pytest.raises(errors.RemoteRejected, match="was booked in Dinero meanwhile as invoice 1"):
        books.update(ref, replace(document, fields={"comment": "x"}))
    assert dinero.count("PUT /v1.2/invoices/{guid}") == 0


def test_status_reads_a_draft_booked_by_hand_now(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.create(invoice(settings, demo_order(1001)))
    assert books.status(ref) == ref
    connect(dinero_server).book(ref)  # the bookkeeper books it
    now = books.status(ref)
    assert now.booked and now.number == "1" and now.remote_id == ref.remote_id
    dinero.invoices.clear()  # gone altogether
    assert books.status(ref) is None


def test_a_cancelled_orders_draft_is_deleted_with_its_current_timestamp(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.create(invoice(settings, demo_order(1001)))
    dinero_server.faults = bump_on(dinero, "DELETE", ref.remote_id)  # edited in Dinero just before
    assert books.delete(ref) is None
    assert dinero.invoices[ref.remote_id]["DeletedAt"] and dinero.count("DELETE /invoices/{guid}") == 2
    assert books.delete(ref) is None and dinero.count("DELETE /invoices/{guid}") == 2  # gone already: nothing sent
    assert connect(dinero_server).find(ref.reference) is None


def test_a_draft_booked_meanwhile_is_not_deleted(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.create(invoice(settings, demo_order(1001)))
    connect(dinero_server).book(ref)
    now = books.delete(ref)
    assert now.booked and now.number == "1" and dinero.count("DELETE /invoices/{guid}") == 0
    assert dinero.invoices[ref.remote_id]["DeletedAt"] is None


# --- exactly once ----------------------------------------------------------------------------
def test_a_create_whose_answer_never_came_is_found_by_its_guid_and_never_written_twice(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    document = invoice(settings, demo_order(1001))
    dinero_server.faults = fault_once("POST", f"/v1/{books.settings.organization_id}/invoices")
    with pytest.raises(errors.OutcomeUnknown):
        books.create(document)
    assert len(dinero.invoices) == 1  # it landed; the client never heard
    found = connect(dinero_server).find(document.reference, DocumentKind.INVOICE)
    assert found is not None and found.remote_id == document_guid(document.reference) and not found.booked
    with pytest.raises(errors.DocumentExists) as exists:  # a blind repeat is refused by Dinero, not doubled
        books.create(document)
    assert exists.value.ref.remote_id == found.remote_id
    assert len(dinero.invoices) == 1 and dinero.count("POST /invoices") == 2


def test_find_falls_back_to_the_reference_filter(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    ref = books.book(books.create(invoice(settings, demo_order(1001))), None)
    moved = dinero.invoices.pop(ref.remote_id)  # the same document under a Guid that is not ours
    dinero.invoices["0f6b1e2a-0000-4000-8000-000000000001"] = {**moved, "Guid": "0f6b1e2a-0000-4000-8000-000000000001"}
    found = connect(dinero_server).find(ref.reference)
    assert found is not None and found.booked and found.number == "1"
    assert found.remote_id == "0f6b1e2a-0000-4000-8000-000000000001"
    assert dinero.count("GET /invoices") == 1  # the filtered list, after the Guid read missed
    assert connect(dinero_server).find("iexsync:woocommerce:4711:invoice") is None


def test_a_reference_the_filter_cannot_say_is_found_by_its_guid(dinero, dinero_server, settings) -> None:
    document = replace(invoice(settings, demo_order(1001)), reference="shop'1;order:2")
    ref = connect(dinero_server).create(document)
    found = connect(dinero_server).find(document.reference)
    assert found is not None and found.remote_id == ref.remote_id
    assert connect(dinero_server).find("shop'1;order:3") is None
    assert dinero.count("GET /invoices") == 0  # never a filter it cannot say


def test_a_write_answered_5xx_is_unknown_and_not_sent_again(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    dinero_server.faults = fault_once("POST", f"/v1/{books.settings.organization_id}/invoices", kind="status", status=502)
    with pytest.raises(errors.OutcomeUnknown):
        books.create(invoice(settings, demo_order(1001)))
    assert dinero_server.calls("POST", f"/v1/{books.settings.organization_id}/invoices") != []
    assert len(dinero_server.calls("POST", f"/v1/{books.settings.organization_id}/invoices")) == 1


def test_a_429_on_a_write_is_waited_out_and_sent_again(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server)
    dinero_server.faults = fault_once("POST", f"/v1/{books.settings.organization_id}/invoices", kind="status",
                                      status=429, headers={"Retry-After": "0"})
    ref = books.create(invoice(settings, demo_order(1001)))
    assert len(dinero.invoices) == 1 and ref.remote_id in dinero.invoices
    assert len(dinero_server.calls("POST", f"/v1/{books.settings.organization_id}/invoices")) == 2


# --- contacts and products -------------------------------------------------------------------
def test_a_returning_buyer_is_remembered_between_runs(dinero, dinero_server, settings, tmp_path: Path) -> None:
    store = Store(tmp_path / "log.db")
    try:
        first = connect(dinero_server)
        first.use_memory(store)
        first.create(invoice(settings, demo_order(1001)))
        first.create(invoice(settings, demo_order(1001, id=5001, number="5001")))  # same buyer, same run
        assert dinero.count("GET /contacts") == 1 and dinero.count("POST /contacts") == 1
        later = connect(dinero_server)  # the next run
        later.use_memory(store)
        later.create(invoice(settings, demo_order(1001, id=5002, number="5002")))
        assert dinero.count("GET /contacts") == 1 and dinero.count("POST /contacts") == 1
        assert len(dinero.contacts) == 1
    finally:
        store.close()


def test_an_existing_contact_is_found_by_email_not_created(dinero, dinero_server, settings) -> None:
    order = demo_order(1003)
    existing = dinero.add_contact(Name="Made by hand", Email=order.customer.email.upper())
    ref = connect(dinero_server).create(invoice(settings, order))
    assert dinero.invoices[ref.remote_id]["ContactGuid"] == existing["ContactGuid"]
    assert dinero.count("POST /contacts") == 0
    query = dinero_server.calls("GET", f"/v1/{dinero.organization_id}/contacts")[0].query
    assert "queryFilter=Email+eq+" in query or "queryFilter=Email%20eq%20" in query


def test_contacts_matched_on_vat_number(dinero, dinero_server, settings) -> None:
    existing = dinero.add_contact(Name="Fjordhuset", VatNumber="DK12345678")
    ref = connect(dinero_server, contacts={"match_on": "vat_number"}).create(invoice(settings, demo_order(1001)))
    assert dinero.invoices[ref.remote_id]["ContactGuid"] == existing["ContactGuid"]


def test_a_contact_create_whose_answer_never_came_is_not_made_twice(dinero, dinero_server, settings) -> None:
    dinero_server.faults = fault_once("POST", f"/v1/{dinero.organization_id}/contacts")
    ref = connect(dinero_server).create(invoice(settings, demo_order(1001)))  # looked up by its own Guid
    assert len(dinero.contacts) == 1 and dinero.invoices[ref.remote_id]["ContactGuid"] in dinero.contacts


def test_a_contact_repeated_after_a_lost_answer_is_refused_by_its_own_guid_not_doubled(dinero, dinero_server, settings) -> None:
    """The contact POST landed but its answer was lost, the look-up by its Guid missed and
    the list lags behind: the next attempt posts again, and Dinero refuses the same Guid."""
    org = dinero.organization_id
    empty = json.dumps({"Collection": [], "Pagination": {"MaxPageSizeAllowed": 1000, "PageSize": 1000, "Result": 0,
                                                         "ResultWithoutFilter": 0, "Page": 0}}).encode()
    lost, missed, lagging = fault_once("POST", f"/v1/{org}/contacts"), [True], [True]

    def faults(request: Recorded):
        if request.method == "GET" and request.path.startswith(f"/v1/{org}/contacts/") and missed[0]:
            missed[0] = False
            return Fault("status", 404, b'{"code": 40, "message": "Contact not found."}')
        if request.method == "GET" and request.path == f"/v1/{org}/contacts" and dinero.contacts and lagging[0]:
            lagging[0] = False
            return Fault("status", 200, empty)
        return lost(request)

    dinero_server.faults = faults
    document = invoice(settings, demo_order(1001))
    with pytest.raises(errors.OutcomeUnknown):
        connect(dinero_server).create(document)
    ref = connect(dinero_server).create(document)
    assert len(dinero.contacts) == 1 and dinero.invoices[ref.remote_id]["ContactGuid"] in dinero.contacts
    assert dinero.count("POST /contacts") == 2


def test_a_new_contact_carries_the_buyer(dinero, dinero_server, settings) -> None:
    connect(dinero_server).create(invoice(settings, demo_order(1001)))
    body = dinero.received("POST /contacts")[0]
    assert body["Name"] == "Fjordhuset ApS" and body["IsPerson"] is False and body["VatNumber"] == "DK12345678"
    assert body["CountryKey"] == "DK" and body["Email"] == demo_order(1001).customer.email


def test_a_contact_deleted_in_dinero_is_looked_up_again_not_trusted(dinero, dinero_server, settings, tmp_path: Path) -> None:
    store = Store(tmp_path / "log.db")
    try:
        books = connect(dinero_server)
        books.use_memory(store)
        books.create(invoice(settings, demo_order(1001)))
        dinero.contacts.clear()  # deleted by hand
        later = connect(dinero_server)
        later.use_memory(store)
        ref = later.create(invoice(settings, demo_order(1001, id=5001, number="5001")))
        assert dinero.invoices[ref.remote_id]["ContactGuid"] in dinero.contacts
    finally:
        store.close()


def test_product_lines_by_sku(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, use_products=True)
    ref = books.create(invoice(settings, demo_order(1001)))
    books.create(invoice(settings, demo_order(1001, id=5001, number="5001")))
    lines = dinero.invoices[ref.remote_id]["ProductLines"]
    assert all("ProductGuid" in line for line in lines[:2]) and "ProductGuid" not in lines[-1]  # shipping: a free line
    assert dinero.count("POST /products") == 2 and len(dinero.products) == 2
    assert ref.totals.gross == D("1646.25")


# --- errors ----------------------------------------------------------------------------------
def test_dineros_refusal_names_the_line_the_field_and_the_config_key(dinero, dinero_server, settings) -> None:
    with pytest.raises(errors.RemoteRejected) as caught:
        connect(dinero_server, accounts={"shipping": 4242}).create(invoice(settings, demo_order(1001)))
    message = str(caught.value)
    assert message.startswith("Dinero refused the invoice draft for order 1001 (code 42): ")
    assert "line 3 (PostNord) AccountNumber: Account 4242 does not exist" in message
    assert message.endswith("check accounting.accounts")


# --- payments --------------------------------------------------------------------------------
def test_a_paid_order_gets_its_payment_registered_once(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, payments=STRIPE)
    document = invoice(settings, demo_order(1001))
    booked = books.book(books.create(document), document)
    [payment] = dinero.payments[booked.remote_id]
    assert payment["Amount"] == D("1646.25") and payment["DepositAccountNumber"] == 55010
    assert payment["ExternalReference"] == document.reference + ":payment"
    assert dinero.received("POST /invoices")[0]["PaymentConditionType"] == "Paid"
    assert books.book(replace(booked, booked=False), document).booked  # an earlier attempt booked it
    assert len(dinero.payments[booked.remote_id]) == 1 and dinero.count("GET /v2/invoices/{guid}/payments") == 1


def test_a_payment_whose_answer_never_came_is_looked_up_not_registered_twice(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, payments=STRIPE)
    document = invoice(settings, demo_order(1001))
    ref = books.create(document)
    dinero_server.faults = fault_once("POST", f"/v1/{dinero.organization_id}/invoices/{ref.remote_id}/payments")
    assert books.book(ref, document).booked  # the lookup found it
    assert len(dinero.payments[ref.remote_id]) == 1


def test_a_method_without_a_deposit_account_registers_no_payment(dinero, dinero_server, settings) -> None:
    books = connect(dinero_server, payments=STRIPE)
    document = invoice(settings, demo_order(1004))  # bank transfer
    books.book(books.create(document), document)
    assert dinero.payments == {} and dinero.received("POST /invoices")[0]["PaymentConditionType"] == "Netto"


# --- credit notes ----------------------------------------------------------------------------
def test_a_refund_becomes_a_booked_credit_note_for_the_invoice(dinero, dinero_server, settings) -> None:
    from iexsync import mapping

    books = connect(dinero_server)
    order = demo_order(1006)
    document = invoice(settings, order)
    booked = books.book(books.create(document), document)
    note = mapping.build_credit_note(settings, order, order.refunds[0], document.reference)
    credited = books.credit(booked, note)
    assert credited.booked and credited.kind is DocumentKind.CREDIT_NOTE and credited.number == "1"
    stored = dinero.creditnotes[credited.remote_id]
    assert stored["CreditNoteFor"] == booked.remote_id and stored["ExternalReference"] == note.reference
    assert credited.totals.gross == D("125.00")
    assert books.credit(booked, note, resume=True) == replace(credited, totals=credited.totals)  # found, not written
    assert dinero.count("POST /sales/creditnotes") == 1
