"""Books that are right, not only booked once (issue 11, cases 1, 2, 3, 7 and 8).

The whole path over real HTTP: the fake WooCommerce (refunds as its REST API lists them,
with `line_items`, `shipping_lines` and `fee_lines`, amounts negative), `iexsync sync`,
the engine, the SQLite log, and the fake e-conomic, where the bookkeeper also works by hand
(books a draft, turns an order into an invoice). Each test says what it does to the VAT
return and the receivables.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from iexsync.store import Store
from tests.conftest import EXAMPLES, REPO, bean_check, ledger_entries, write_config
from tests.fakes.economic import FakeEconomic
from tests.fakes.server import FakeServer
from tests.fakes.woocommerce import FakeWooCommerce, WooServer
from tests.test_economic_support import economic_server, fake, section  # noqa: F401 - the same fixtures

ENV = {"WOO_KEY": "ck_" + "5d" * 20, "WOO_SECRET": "cs_" + "c3" * 20}
INVOICE_STATES = {"processing": {"document": "order"}}  # completed: an invoice draft, book: false (the default)


@pytest.fixture
def shop(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=1)))


@pytest.fixture
def books(fake: FakeEconomic) -> FakeEconomic:
    return fake


def configure(folder: Path, shop_server: WooServer, economic: FakeServer, **transfer: Any) -> Path:
    """The demo's config (processing → order draft, completed → booked invoice), the fake
    WooCommerce as the shop and the fake e-conomic as the books, `transfer` overrides."""
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "woocommerce", "url": shop_server.url,
                    "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}"}
    tree["accounting"] = section(economic.url)
    tree["log"] = {"path": str(folder / "iexsync.db")}
    tree["transfer"].update(transfer)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def demo(shop: FakeWooCommerce, number: int, **changes: Any) -> dict[str, Any]:
    raw = json.loads((EXAMPLES / f"{number}.json").read_text())
    raw.update(changes)
    shop.add_order(raw)
    return raw


def _negated(item: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """An order line as a refund lists it: amounts negative, `_refunded_item_id` naming it."""
    line = copy.deepcopy(item)
    for key in keys:
        if line.get(key) not in (None, ""):
            line[key] = f"-{line[key]}"
    line["taxes"] = [{"id": tax["id"], "total": f"-{tax['total']}", "subtotal": ""} for tax in item.get("taxes", [])]
    line["meta_data"] = [{"id": 99_000 + item["id"], "key": "_refunded_item_id", "value": str(item["id"])}]
    line["id"] = 90_000 + item["id"]
    return line


def refunded_products(raw: dict[str, Any], *indexes: int) -> list[dict[str, Any]]:
    items = [raw["line_items"][i] for i in indexes] if indexes else raw["line_items"]
    lines = [_negated(item, ("subtotal", "subtotal_tax", "total", "total_tax")) for item in items]
    for line in lines:
        line["quantity"] = -int(line["quantity"])
    return lines


def refunded_shipping(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [_negated(item, ("total", "total_tax")) for item in raw["shipping_lines"]]


def refunded_fees(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [_negated(item, ("total", "total_tax")) for item in raw["fee_lines"]]


def sync(cli, path: Path) -> Any:
    return cli("sync", "--config", path, env=ENV)


def writes(books: FakeEconomic) -> int:
    return sum(count for route, count in books.calls.items() if not route.startswith("GET"))


def credit_notes(books: FakeEconomic) -> list[dict[str, Any]]:
    return [doc for doc in books.booked.values() if doc["grossAmount"] < 0]


def events(folder: Path, order: str) -> list[tuple[str, str]]:
    store = Store(folder / "iexsync.db")
    try:
        return [(row["outcome"], row["message"]) for row in reversed(store.search(order)) if row["outcome"]]
    finally:
        store.close()


# --- 1. refunds are credited whatever state the order moves to --------------------------------
def test_a_fully_refunded_order_is_credited_though_refunded_is_not_an_allowed_state(tmp_path, shop, server, books,
                                                                                      economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server)
    raw = demo(shop, 1001)
    assert sync(cli, path).exit_code == 0
    (invoice,) = books.booked.values()
    assert (invoice["grossAmount"], invoice["vatAmount"]) == (Decimal("1646.25"), Decimal("329.25"))

    # WooCommerce: the whole order refunded (both products and the shipping), status `refunded`.
    refund = shop.add_refund(1001, "1646.25", "Returned", line_items=refunded_products(raw),
                             shipping_lines=refunded_shipping(raw))
    shop.modify(1001, status="refunded")
    result = sync(cli, path)
    assert result.exit_code == 0, result.output
    (credit,) = credit_notes(books)
    # The VAT return and the receivable: the sale's revenue and VAT are taken back to the cent.
    assert (credit["grossAmount"], credit["netAmount"], credit["vatAmount"]) == (
        Decimal("-1646.25"), Decimal("-1317.00"), Decimal("-329.25"))
    assert sum(doc["vatAmount"] for doc in books.booked.values()) == 0
    assert sorted(line["product"]["productNumber"] for line in credit["lines"]) == ["NL-LAMP-01", "NL-VASE-02", "fragtmm"]
    assert ("credited", f"Refund {refund['id']} credited as credit note {credit['bookedInvoiceNumber']}") in events(
        tmp_path, "1001")

    # Credited once: the next run, and a later change to the order, write nothing more.
    before = writes(books)
    sync(cli, path)
    shop.modify(1001, customer_note="thanks")
    assert sync(cli, path).exit_code == 0
    assert writes(books) == before and len(credit_notes(books)) == 1
    assert events(tmp_path, "1001")[-1] == (
        "skipped", "Order state not allowed: booked invoice 1, transferred in an earlier state, stays as it is")


# --- 2. a refund waits for a draft only until the bookkeeper books it ---------------------------
def test_a_refund_waits_for_the_draft_until_the_bookkeeper_books_it_by_hand(tmp_path, server, books,
                                                                             economic_server, cli) -> None:
    # The shop's clock an hour behind and no overlap: a run re-reads only what changed since the
    # last, so the waiting order is looked at again because it is due, not because it is recent.
    shop = server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"], utc_offset=timedelta(hours=1),
                                      now=lambda: datetime.now(timezone.utc) - timedelta(hours=1)))
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES, overlap_minutes=0)
    raw = demo(shop, 1001)
    demo(shop, 1003)
    sync(cli, path)
    assert sorted(books.drafts) == [1, 2] and not books.booked
    ((_, invoice),) = books.documents_with_reference("iexsync:woocommerce:1001:invoice")
    draft = invoice["draftInvoiceNumber"]  # the orders go through four workers: either may be first
    refund = shop.add_refund(1001, "590.00", "Broken vase", line_items=refunded_products(raw, 1))
    assert sync(cli, path).exit_code == 0
    waits = (f"Refund {refund['id']} (590.00 DKK) waits: invoice draft {draft} is not booked in the accounting system "
             "(checked now); the refund is credited on the first run after it is booked")
    assert events(tmp_path, "1001")[-1] == ("warning", waits)

    # Still a draft: each run asks e-conomic once (GET the draft), writes nothing, repeats nothing,
    # also once other orders' changes have moved the cursor past it.
    shop.modify(1003, customer_note="gift wrap")
    shop.modify(1003, customer_note="gift wrap, please")
    asked, logged = books.count("GET /invoices/drafts/{draftInvoiceNumber}"), events(tmp_path, "1001")
    sync(cli, path)
    before = writes(books)
    sync(cli, path)
    assert books.count("GET /invoices/drafts/{draftInvoiceNumber}") == asked + 2
    assert writes(books) == before and events(tmp_path, "1001") == logged

    # The bookkeeper books the draft in e-conomic; the order itself does not change.
    number = books.book_by_hand(draft)
    assert sync(cli, path).exit_code == 0
    (credit,) = credit_notes(books)
    assert (credit["grossAmount"], credit["vatAmount"]) == (Decimal("-590.00"), Decimal("-118.00"))
    assert events(tmp_path, "1001")[-2:] == [
        ("booked", f"Invoice draft {draft} was booked in the accounting system (by hand) as booked invoice {number}; "
                   "recorded"),
        ("credited", f"Refund {refund['id']} credited as credit note {credit['bookedInvoiceNumber']}"),
    ]
    # Settled: no more asking.
    asked = books.count("GET /invoices/drafts/{draftInvoiceNumber}") + books.count("GET /invoices/booked")
    sync(cli, path)
    assert books.count("GET /invoices/drafts/{draftInvoiceNumber}") + books.count("GET /invoices/booked") == asked


def test_a_draft_booked_by_hand_is_not_updated_when_the_order_changes(tmp_path, shop, server, books,
                                                                      economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES)
    demo(shop, 1001)
    sync(cli, path)
    number = books.book_by_hand(1)
    shop.modify(1001, shipping_lines=[], shipping_total="0.00", shipping_tax="0.00", total="1585.00",
                total_tax="317.00")
    assert sync(cli, path).exit_code == 0  # not an error: the booking is recorded, the difference named
    assert books.count("PUT /invoices/drafts/{draftInvoiceNumber}") == 0
    assert events(tmp_path, "1001")[-2:] == [
        ("booked", f"Invoice draft 1 was booked in the accounting system (by hand) as booked invoice {number}; "
                   "recorded"),
        ("warning", f"The order's amounts changed after invoice {number} was booked (net 1317.00 → 1268.00, "
                    "vat 329.25 → 317.00, gross 1646.25 → 1585.00 DKK); a booked document is never changed: "
                    "correct it in the accounting system (e.g. with a credit note)"),
    ]


def test_a_refund_waiting_for_a_draft_deleted_by_hand_says_so(tmp_path, shop, server, books, economic_server,
                                                                cli) -> None:
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES)
    demo(shop, 1001)
    sync(cli, path)
    del books.drafts[1]  # deleted in e-conomic's screens
    refund = shop.add_refund(1001, "100.00", "Goodwill")
    assert sync(cli, path).exit_code == 0
    assert events(tmp_path, "1001")[-1] == ("warning", (
        f"Refund {refund['id']} (100.00 DKK) waits: invoice draft 1 is no longer in the accounting system (deleted "
        "there?), so there is no invoice to credit it against; book the sale and credit the refund there by hand"))


# --- 3. refund lines credited as what they were ---------------------------------------------------
@pytest.mark.parametrize(("order", "lines", "amount", "product", "net", "vat"), [
    # A 25 % / 0 % order (a book at 0 %): the shipping's 12.25 VAT comes back, not a share of both rates.
    (1002, "shipping_lines", "61.25", "fragtmm", Decimal("49.00"), Decimal("12.25")),
    (1003, "fee_lines", "25.00", "Gebyr", Decimal("20.00"), Decimal("5.00")),
])
def test_refunded_shipping_and_fees_are_credited_on_their_products_at_their_own_rate(
        tmp_path, shop, server, books, economic_server, cli, order, lines, amount, product, net, vat) -> None:
    path = configure(tmp_path, server, economic_server)
    raw = demo(shop, order)
    sync(cli, path)
    given = {"shipping_lines": refunded_shipping(raw)} if lines == "shipping_lines" else {"fee_lines": refunded_fees(raw)}
    shop.add_refund(order, amount, "", **given)
    assert sync(cli, path).exit_code == 0
    (credit,) = credit_notes(books)
    assert (credit["netAmount"], credit["vatAmount"], credit["grossAmount"]) == (-net, -vat, -(net + vat))
    assert [(line["product"]["productNumber"], line["quantity"], line["unitNetPrice"]) for line in credit["lines"]] == [
        (product, Decimal(-1), net)]


def test_returned_products_with_an_unexplained_rest_split_only_the_rest(tmp_path, shop, server, books,
                                                                        economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server)
    raw = demo(shop, 1002)
    sync(cli, path)
    # The book (0 %) returned, plus 50.00 goodwill: the book on its product, the 50.00 over the rates.
    shop.add_refund(1002, "349.00", "Goodwill", line_items=refunded_products(raw, 1))
    sync(cli, path)
    (credit,) = credit_notes(books)
    products = [line["product"]["productNumber"] for line in credit["lines"]]
    assert products[0] == "NL-BOG-01" and set(products[1:]) == {"retur", "returum"}
    assert credit["grossAmount"] == Decimal("-349.00")


# --- 7. orders that leave the allowed states -----------------------------------------------------
def test_a_cancelled_orders_drafts_are_deleted(tmp_path, shop, server, books, economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES)
    demo(shop, 1005)  # processing: an order draft
    demo(shop, 1001)  # completed: an invoice draft
    sync(cli, path)
    assert list(books.orders) == [1] and list(books.drafts) == [1]
    shop.modify(1005, status="cancelled")
    shop.modify(1001, status="cancelled")
    assert sync(cli, path).exit_code == 0
    # Nothing unbooked is left behind for the bookkeeper to book by mistake.
    assert books.orders == {} and books.drafts == {} and books.booked == {}
    assert books.count("DELETE /orders/drafts/{orderNumber}") == 1
    assert books.count("DELETE /invoices/drafts/{draftInvoiceNumber}") == 1
    assert events(tmp_path, "1005")[-1] == ("updated", "The order was cancelled: order 1 deleted from the accounting system")
    assert events(tmp_path, "1001")[-1] == (
        "updated", "The order was cancelled: invoice draft 1 deleted from the accounting system")
    # Reinstated later: transferred afresh.
    shop.modify(1001, status="completed")
    sync(cli, path)
    assert list(books.drafts) == [2]


def test_a_cancelled_orders_draft_booked_by_hand_meanwhile_is_not_deleted(tmp_path, shop, server, books,
                                                                          economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES)
    demo(shop, 1001)
    sync(cli, path)
    number = books.book_by_hand(1)
    shop.modify(1001, status="cancelled")
    assert sync(cli, path).exit_code == 0
    assert list(books.booked) == [number] and books.drafts == {}  # a booked invoice is never removed
    assert events(tmp_path, "1001")[-1] == ("warning", (
        f"The order was cancelled, but invoice draft 1 was booked in the accounting system meanwhile, as booked "
        f"invoice {number}; it was not deleted"))
    sync(cli, path)  # due: decided again as the booked invoice of a cancelled order
    assert events(tmp_path, "1001")[-1][1].startswith(f"The order was cancelled after booked invoice {number} was booked")


def test_a_cancelled_orders_draft_leaves_the_ledger_and_its_number_is_not_reused(demo_ledger: Path, cli) -> None:
    orders = demo_ledger.parent / "examples" / "orders"
    cli("sync", "--config", demo_ledger)
    ledger = demo_ledger.parent / "books" / "ledger.beancount"
    assert "iexsync:woocommerce:1001:invoice" in ledger_entries(ledger)
    raw = json.loads((orders / "1001.json").read_text())
    raw.update(status="cancelled", date_modified="2026-03-01T10:00:00", date_modified_gmt="2026-03-01T09:00:00")
    (orders / "1001.json").write_text(json.dumps(raw))
    newer = json.loads((orders / "1003.json").read_text()) | {"id": 1011, "number": "1011"}
    (orders / "1011.json").write_text(json.dumps(newer))
    cli("sync", "--config", demo_ledger)
    assert "iexsync:woocommerce:1001:invoice" not in ledger_entries(ledger) and bean_check(ledger) == []
    invoices = re.findall(r'document: "invoice"\n  document-number: "(\d+)"', ledger.read_text())
    assert sorted(invoices) == ["2", "3", "4", "5", "6"]  # the deleted draft's number 1 is gone, none is given twice


@pytest.fixture
def demo_ledger(tmp_path: Path) -> Path:
    """The demo (file shop, Beancount) with completed orders left as invoice drafts."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    return write_config(tmp_path / "config.yaml", {"transfer": {"per_state": INVOICE_STATES}})


def test_a_cancelled_orders_draft_kept_by_config_is_named_in_a_warning(tmp_path, shop, server, books,
                                                                        economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server, per_state=INVOICE_STATES, cancelled_drafts="keep")
    demo(shop, 1001)
    sync(cli, path)
    shop.modify(1001, status="cancelled")
    assert sync(cli, path).exit_code == 0
    assert list(books.drafts) == [1]
    assert events(tmp_path, "1001")[-1] == ("warning", (
        "The order was cancelled; its invoice draft 1 was kept in the accounting system "
        "(transfer.cancelled_drafts: keep): delete it there if the sale is void"))


def test_a_cancelled_orders_booked_invoice_is_named_in_a_warning(tmp_path, shop, server, books, economic_server,
                                                                  cli) -> None:
    path = configure(tmp_path, server, economic_server)
    demo(shop, 1001)
    sync(cli, path)
    before = writes(books)
    shop.modify(1001, status="cancelled")
    assert sync(cli, path).exit_code == 0
    assert writes(books) == before  # the booked invoice is never touched
    assert events(tmp_path, "1001")[-1] == ("warning", (
        "The order was cancelled after booked invoice 1 was booked; the invoice stays in the books and the VAT "
        "return: credit it in the accounting system if the sale is void (or set transfer.cancelled_booked: credit_note)"))


def test_a_cancelled_orders_booked_invoice_is_credited_when_the_config_says_so(tmp_path, shop, server, books,
                                                                                economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server, cancelled_booked="credit_note")
    demo(shop, 1001)
    sync(cli, path)
    (invoice,) = books.booked.values()
    shop.modify(1001, status="cancelled")
    assert sync(cli, path).exit_code == 0
    (credit,) = credit_notes(books)
    # Line for line: the VAT return and the receivable are back where they were before the sale.
    assert (credit["grossAmount"], credit["vatAmount"]) == (-invoice["grossAmount"], -invoice["vatAmount"])
    assert [line["product"]["productNumber"] for line in credit["lines"]] == [
        line["product"]["productNumber"] for line in invoice["lines"]]
    assert credit["references"]["other"] == "iexsync:woocommerce:1001:credit_note:cancelled"
    sync(cli, path)
    assert len(credit_notes(books)) == 1


# --- 8. an invoice the bookkeeper made from the order's document ------------------------------------
def test_an_order_turned_into_an_invoice_by_the_bookkeeper_is_never_invoiced_twice(tmp_path, shop, server, books,
                                                                                  economic_server, cli) -> None:
    path = configure(tmp_path, server, economic_server)
    demo(shop, 1005)  # processing: an order draft
    sync(cli, path)
    assert list(books.orders) == [1]
    draft = books.convert_order(1)  # e-conomic's order → invoice flow, in its own screens
    assert books.drafts[draft]["references"]["other"] == "iexsync:woocommerce:1005:order"
    shop.modify(1005, status="completed")
    assert sync(cli, path).exit_code == 0
    # One invoice for the sale, the converted one, booked as the completed state says.
    assert books.count("POST /invoices/drafts") == 0
    assert [doc["grossAmount"] for doc in books.booked.values()] == [Decimal("836.25")] and books.drafts == {}
    assert events(tmp_path, "1005")[-2:] == [
        ("transferred", "Already in the accounting system as invoice draft 1, made from the order's document "
                        "(iexsync:woocommerce:1005:order); recorded, not written again"),
        ("booked", "Booked as booked invoice 1"),
    ]
    sync(cli, path)
    assert len(books.booked) == 1 and books.drafts == {}


@pytest.mark.parametrize("sent", [False, True], ids=["order-draft", "sent-order"])
def test_a_lost_log_finds_the_invoice_the_bookkeeper_made_from_the_order(tmp_path, shop, server, books,
                                                                        economic_server, cli, sent) -> None:
    """The log is lost after the bookkeeper turned the order document into an invoice: the
    new log knows no order document, yet the invoice carrying the order's reference is found
    before anything is written, so the sale is booked once, not twice."""
    path = configure(tmp_path, server, economic_server)
    demo(shop, 1005)  # processing: an order draft
    sync(cli, path)
    if sent:
        books.mark_order_sent(1)  # e-conomic: an order sent to the buyer moves to /orders/sent
    draft = books.convert_order(1)
    for leftover in tmp_path.glob("iexsync.db*"):
        leftover.unlink()
    shop.modify(1005, status="completed")
    assert sync(cli, path).exit_code == 0
    assert books.count("POST /invoices/drafts") == 0
    assert [doc["grossAmount"] for doc in books.booked.values()] == [Decimal("836.25")] and books.drafts == {}
    assert events(tmp_path, "1005")[-2:] == [
        ("transferred", f"Already in the accounting system as invoice draft {draft}, made from the order's document "
                        "(iexsync:woocommerce:1005:order); recorded, not written again"),
        ("booked", "Booked as booked invoice 1"),
    ]
    sync(cli, path)
    assert len(books.booked) == 1 and books.drafts == {}


# --- 5. a dry run says what it would do to meet the shop's totals ------------------------------------
def test_a_dry_run_names_the_rounding_line_it_would_add(demo: Path) -> None:
    """The shop's total is a cent more than its lines (a shop rounding at the total): the run
    would add a rounding line, and the dry run says so, as the real run's event does."""
    from iexsync import config as config_module, service

    orders = demo.parent / "examples" / "orders"
    raw = json.loads((orders / "1001.json").read_text())
    raw["total"] = str(Decimal(raw["total"]) + Decimal("0.01"))
    (orders / "1001.json").write_text(json.dumps(raw))
    before = sorted(str(p.relative_to(demo.parent)) for p in demo.parent.rglob("*"))

    result = service.sync(config_module.load(demo), dry_run=True, order_ids=["1001"])

    (event,) = [event for event in result.events if event.order == "1001" and event.outcome == "transferred"]
    assert event.message.endswith("; a rounding line of +0.01 DKK makes the document the shop's total 1646.26"), event
    assert sorted(str(p.relative_to(demo.parent)) for p in demo.parent.rglob("*")) == before  # nothing written


def test_a_sigterm_while_a_template_renders_stops_the_run_and_is_not_the_orders_error(demo: Path) -> None:
    """SIGTERM raises Interrupted wherever the run is; inside an admin's template it must stop
    the run (exit 130, the order decided again next run), not be logged as the order's error."""
    from dataclasses import replace as replaced

    from iexsync import config as config_module, mapping
    from iexsync.document import DocumentKind
    from iexsync.errors import Interrupted
    from iexsync.shops.woocommerce.order import parse_order

    class SigtermOnRead(str):
        def __str__(self) -> str:
            raise Interrupted()

    settings = config_module.load(demo)
    settings = replaced(settings, mappings={"heading": "{{ order.customer_note }}"})
    order = replaced(parse_order(json.loads((EXAMPLES / "1001.json").read_text())), customer_note=SigtermOnRead("x"))
    with pytest.raises(Interrupted):
        mapping.build_document(settings, order, DocumentKind.INVOICE)
