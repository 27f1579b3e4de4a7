"""Every cent and every date accounted for (issue 11, cases 5 and 6).

Orders as WooCommerce computes them (tax rounded per line; tests/woo_orders.py), served by
the fake WooCommerce and synced by the real CLI into the fake e-conomic, which rounds VAT
once per rate as a Danish invoice does. And a property test over generated orders through
the real reader and mapping: every line a whole cent, every document equal to the shop's
totals or saying why not.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from iexsync import config as config_module, mapping
from iexsync.document import DocumentKind
from iexsync.model import Refund
from iexsync.shops.woocommerce.order import parse_order
from tests.conftest import REPO
from tests.fakes.economic import FakeEconomic
from tests.fakes.woocommerce import FakeWooCommerce, WooServer
from tests.test_economic_support import economic_server, fake, section  # noqa: F401
from tests.woo_orders import Item, local_and_gmt, woo_order

D = Decimal
KEY, SECRET = "ck_" + "7a" * 20, "cs_" + "8b" * 20
CENT = D("0.01")


@pytest.fixture
def shop(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce(KEY, SECRET))


def sync(tmp_path: Path, server: WooServer, economic_server, cli, transfer=None, **accounting):  # noqa: F811
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "woocommerce", "url": server.url, "consumer_key": KEY, "consumer_secret": SECRET}
    tree["accounting"] = section(economic_server.url, **accounting)
    tree["transfer"].update(per_state={}, book=True, start_date="2026-01-01", **(transfer or {}))
    tree["log"] = {"path": str(tmp_path / "iexsync.db")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    result = cli("sync", "--config", path, "--verbose")
    return result.exit_code, " ".join(result.output.split()), path


def booked(fake: FakeEconomic) -> dict[str, dict]:  # noqa: F811
    return {d["references"]["other"].split(":", 2)[2]: d for d in fake.booked.values()}


def logged(cli, path: Path, order: str) -> list[str]:
    return [row["message"] for row in json.loads(cli("log", "search", order, "--config", path, "--json").output)]


# --- case 5: what the customer paid, to the cent ---------------------------------------------

def test_per_line_rounded_vat_is_booked_at_what_the_customer_paid(tmp_path, shop, server, fake, economic_server, cli) -> None:  # noqa: F811
    # Prices with VAT: ten 13.33 items, each line's VAT rounded (2.67): paid 133.30, VAT 26.70.
    shop.add_order(woo_order(601, [Item(f"Card {n}", f"CARD-{n}", 1, D("13.33")) for n in range(10)],
                             prices_include_tax=True, shipping=None))
    # Prices without VAT: twenty 10.02 items, VAT 2.505 → 2.51 each: paid 250.60, VAT 50.20.
    shop.add_order(woo_order(602, [Item(f"Pin {n}", f"PIN-{n}", 1, D("10.02")) for n in range(20)], shipping=None))
    code, output, path = sync(tmp_path, server, economic_server, cli)
    assert code == 0, output
    invoices = booked(fake)
    assert invoices["601:invoice"]["grossAmount"] == D("133.30")  # not e-conomic's 106.60 × 25 % = 133.25
    assert invoices["602:invoice"]["grossAmount"] == D("250.60")  # not 250.50
    message = logged(cli, path, "601")[-1]
    assert "e-conomic computed 133.25 DKK (VAT 26.65) where the shop's total is 133.30 (VAT 26.70)" in message
    assert "a correction line of +0.05 on the rounding product" in message
    assert "e-conomic's VAT is 26.65 DKK, the shop charged 26.70 (-0.05" in message
    correction = invoices["601:invoice"]["lines"][-1]
    assert (correction["product"]["productNumber"], correction["unitNetPrice"]) == ("diff", D("0.05"))


def test_beyond_the_tolerance_ignore_still_says_so(tmp_path, shop, server, fake, economic_server, cli) -> None:  # noqa: F811
    shop.add_order(woo_order(611, [Item(f"Pin {n}", f"PIN-{n}", 1, D("10.02")) for n in range(20)], shipping=None))
    code, output, path = sync(tmp_path, server, economic_server, cli, totals={"tolerance": 0.05, "on_mismatch": "ignore"})
    assert code == 0, output
    assert booked(fake)["611:invoice"]["grossAmount"] == D("250.50")
    assert "totals differ: the shop says 250.60 DKK (VAT 50.20), e-conomic computed 250.50" in logged(cli, path, "611")[-1]
    assert "booked anyway (totals.on_mismatch: ignore)" in logged(cli, path, "611")[-1]


# --- case 6: dates a bookkeeper can defend ---------------------------------------------------

CREATED = datetime(2026, 6, 30, 9, 0, tzinfo=timezone.utc)  # Q2
COMPLETED = datetime(2026, 7, 3, 12, 0, tzinfo=timezone.utc)  # shipped in Q3


def refunded(order_id: int, moment: datetime, amount: str = "100.00") -> tuple[dict, list[dict]]:
    raw = woo_order(order_id, [Item("Lampe", "LAMP-1", 2, D("400.00"))], created=CREATED, paid=CREATED, completed=COMPLETED)
    local, gmt = local_and_gmt(moment)
    raw["refunds"] = [{"id": order_id * 10, "reason": "Returned", "total": f"-{amount}"}]
    refund = {"id": order_id * 10, "date_created": local, "date_created_gmt": gmt, "amount": amount, "reason": "Returned",
              "refunded_by": 1, "refunded_payment": True, "meta_data": [], "line_items": [], "shipping_lines": [],
              "fee_lines": []}
    return raw, [refund]


def test_the_invoice_is_dated_at_delivery_and_a_credit_note_by_the_refunds_local_date(
        tmp_path, shop, server, fake, economic_server, cli) -> None:  # noqa: F811
    shop.add_order(*refunded(621, datetime(2026, 6, 30, 22, 30, tzinfo=timezone.utc)))  # 00:30 on 1 July in Copenhagen (DST)
    shop.add_order(*refunded(622, datetime(2027, 1, 14, 23, 30, tzinfo=timezone.utc)))  # 00:30 on 15 January (winter)
    code, output, _ = sync(tmp_path, server, economic_server, cli)
    assert code == 0, output
    documents = booked(fake)
    assert documents["621:invoice"]["date"] == "2026-07-03"  # completed, not created (30 June → Q2)
    assert documents["621:credit_note:6210"]["date"] == "2026-07-01"
    assert documents["622:credit_note:6220"]["date"] == "2027-01-15"


@pytest.mark.parametrize(("choice", "expected"), [
    ("completed", date(2026, 7, 3)), ("paid", date(2026, 6, 30)), ("created", date(2026, 6, 30)),
])
def test_document_date_is_the_admins_choice(tmp_path, choice: str, expected: date) -> None:
    path = tmp_path / "config.yaml"
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["transfer"]["document_date"] = choice
    tree["shop"]["path"] = str(REPO / "examples" / "orders")
    path.write_text(yaml.safe_dump(tree))
    settings_ = config_module.load(path)
    order = parse_order(woo_order(1, [Item("Lampe", "LAMP-1", 1, D("100"))], created=CREATED, paid=CREATED, completed=COMPLETED))
    assert mapping.build_document(settings_, order, DocumentKind.INVOICE).date == expected
    not_yet = parse_order(woo_order(2, [Item("Lampe", "LAMP-1", 1, D("100"))], created=CREATED, status="processing"))
    assert mapping.build_document(settings_, not_yet, DocumentKind.INVOICE).date == date(2026, 6, 30)


# --- the property: every line a whole cent, every document the shop's totals or an event ---------

def demo_settings(tmp_path_factory=None):
    return config_module.load(REPO / "config.example.yaml")


items = st.lists(
    st.builds(Item, name=st.just("Item"), sku=st.sampled_from(["A", "B", "C"]), quantity=st.integers(1, 12),
              price=st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=2),
              rate=st.sampled_from([D(25), D(25), D(12), D(6), D(0)])),
    min_size=1, max_size=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=items, include=st.booleans(), round_at_subtotal=st.booleans(),
    coupon=st.sampled_from([D(0), D(0), D(10), D("12.5"), D(33)]),
    shipping=st.one_of(st.none(), st.decimals(min_value=D(0), max_value=D(150), places=2)),
    refund_share=st.decimals(min_value=D("0.01"), max_value=D(1), places=2),
    nudge=st.sampled_from([D(0), D(0), D("0.01"), D("-0.02")]), tax_nudge=st.sampled_from([D(0), D(0), D("0.01")]),
)
def test_every_document_is_the_shops_totals_or_says_why_not(items, include, round_at_subtotal, coupon, shipping,
                                                            refund_share, nudge, tax_nudge) -> None:
    raw = woo_order(700, items, rate_code="SE-MOMS-1", billing_country="SE", prices_include_tax=include,
                    shipping=shipping, coupon_percent=coupon, round_at_subtotal=round_at_subtotal)
    # A shop's totals a cent or two off its lines (a plugin's rounding), in the total or in its VAT alone.
    raw["total"] = f"{D(raw['total']) + nudge:.2f}"
    raw["total_tax"] = f"{D(raw['total_tax']) + tax_nudge:.2f}"
    order = parse_order(raw)
    settings_ = SETTINGS
    try:
        invoice = mapping.build_document(settings_, order, DocumentKind.INVOICE)
    except Exception as exc:  # only a gap beyond the tolerance may stop it, and it says both sums
        assert "the shop's total is" in str(exc) and "apart" in str(exc)
        return
    for line in invoice.lines:
        assert line.net == line.net.quantize(CENT) and line.vat == line.vat.quantize(CENT), line
    totals = invoice.totals
    same = (totals.gross, totals.vat, totals.net) == (order.shop_total, order.shop_total_tax,
                                                      order.shop_total - order.shop_total_tax)
    assert same or invoice.remarks, (totals, order.shop_total, order.shop_total_tax)
    for remark in invoice.remarks:
        assert "DKK" in remark or "SEK" in remark or order.currency in remark
    amount = (order.shop_total * refund_share).quantize(CENT)
    if amount > 0:
        note = mapping.build_credit_note(settings_, order, Refund("9", amount, "Returned"), invoice.reference)
        assert note.totals.gross == amount
        assert all(line.net == line.net.quantize(CENT) and line.vat == line.vat.quantize(CENT) for line in note.lines)


SETTINGS = config_module.load(REPO / "config.example.yaml")
