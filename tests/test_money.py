"""Money and VAT, property-based: Decimal in, Decimal out, to the cent."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iexsync import config as config_module
from iexsync.errors import MappingError
from iexsync.mapping import build_credit_note, build_document
from iexsync.document import DocumentKind
from iexsync.model import Refund
from iexsync.money import MoneyError, parse_decimal, round_money
from iexsync.shops.woocommerce.order import derive_rate, parse_order
from iexsync.vat import rates_in_use
from tests.conftest import EXAMPLES, REPO

cents = st.integers(min_value=1, max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))
rates = st.sampled_from([Decimal(r) for r in ("25", "12", "6", "21", "19", "7", "0", "5.5", "8.1")])


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**9, max_value=10**9))
def test_rounding_is_to_the_minor_unit_and_idempotent(value: Decimal) -> None:
    rounded = round_money(value, "DKK")
    assert rounded == round_money(rounded, "DKK")
    assert abs(rounded - value) <= Decimal("0.005")
    assert round_money(value, "JPY").as_tuple().exponent == 0
    assert round_money(value, "KWD").as_tuple().exponent == -3


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity", "sNaN", "", "1,5", "0x10", True, None, [1], "9" * 50])
def test_non_numbers_are_refused(value) -> None:
    with pytest.raises(MoneyError):
        parse_decimal(value, "total")


def test_float_json_numbers_keep_their_written_digits() -> None:
    assert parse_decimal(0.1, "x") == Decimal("0.1")
    assert parse_decimal(12, "x") == Decimal(12)


@given(net=cents, rate=rates)
def test_a_rate_derived_from_rounded_amounts_finds_the_true_rate(net: Decimal, rate: Decimal) -> None:
    vat = round_money(net * rate / 100, "DKK")
    if vat == 0:
        return
    derived = derive_rate(net, vat)
    if net >= Decimal("10"):  # a cent's rounding is then small against the rate
        assert derived == rate
    else:
        assert derived in rates_in_use() or abs(derived - rate) < 1


def demo_settings():
    return config_module.load(REPO / "config.example.yaml")


@settings(max_examples=150, deadline=None)
@given(amount=st.integers(min_value=1, max_value=98575).map(lambda n: Decimal(n).scaleb(-2)))
def test_an_amount_only_refund_splits_over_the_rates_to_the_cent(amount: Decimal) -> None:
    order = parse_order(json.loads((EXAMPLES / "1002.json").read_text()))  # 25 % and 0 % lines
    note = build_credit_note(demo_settings(), order, Refund("r1", amount), "ref")
    assert note.totals.gross == amount
    assert sum(line.net + line.vat for line in note.lines) == amount
    for line in note.lines:
        assert line.vat == round_money(line.net * line.vat_rate / 100, "DKK") or abs(
            line.vat - line.net * line.vat_rate / 100) <= Decimal("0.01")


@settings(max_examples=100, deadline=None)
@given(unit=st.integers(min_value=1, max_value=10**7).map(lambda n: Decimal(n).scaleb(-2)),
       quantity=st.integers(min_value=1, max_value=50), rate=rates)
def test_documents_sum_to_the_shop_total_or_fail_loudly(unit: Decimal, quantity: int, rate: Decimal) -> None:
    raw = json.loads((EXAMPLES / "1001.json").read_text())
    net = unit * quantity
    vat = round_money(net * rate / 100, "DKK")
    raw["line_items"] = [{
        "id": 1, "name": "Lamp", "quantity": quantity, "subtotal": str(net), "subtotal_tax": str(vat),
        "total": str(net), "total_tax": str(vat), "taxes": [{"id": 1, "total": str(vat), "subtotal": str(vat)}] if vat else [],
        "sku": "L1",
    }]
    raw["shipping_lines"] = []
    raw["tax_lines"] = [{"id": 9, "rate_id": 1, "rate_percent": float(rate), "tax_total": str(vat)}]
    raw["total"] = str(net + vat)
    document = build_document(demo_settings(), parse_order(raw), DocumentKind.INVOICE)
    assert document.totals.gross == net + vat
    assert document.lines[0].vat_rate == (rate if vat else 0)
    raw["total"] = str(net + vat + 1)
    with pytest.raises(MappingError, match=r"\+1.00 apart"):
        build_document(demo_settings(), parse_order(raw), DocumentKind.INVOICE)


def test_a_cent_of_rounding_becomes_a_rounding_line() -> None:
    raw = json.loads((EXAMPLES / "1001.json").read_text())
    raw["total"] = str(Decimal(raw["total"]) + Decimal("0.01"))
    document = build_document(demo_settings(), parse_order(raw), DocumentKind.INVOICE)
    assert document.lines[-1].text == "Rounding" and document.lines[-1].net == Decimal("0.01")
    assert document.totals.gross == Decimal(raw["total"])


def test_a_cent_the_shop_rounded_off_its_vat_total_corrects_the_vat() -> None:
    """WooCommerce may round tax per order: the lines' VAT is a cent over the shop's VAT total."""
    raw = json.loads((EXAMPLES / "1001.json").read_text())
    raw["total_tax"] = str(Decimal(raw["total_tax"]) - Decimal("0.01"))
    raw["total"] = str(Decimal(raw["total"]) - Decimal("0.01"))
    order = parse_order(raw)
    document = build_document(demo_settings(), order, DocumentKind.INVOICE)
    assert document.totals.vat == order.shop_total_tax
    assert document.totals.gross == order.shop_total
    assert document.totals.net == order.totals().net
    assert all(line.text != "Rounding" for line in document.lines)
