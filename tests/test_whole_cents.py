"""Every document line is a whole cent, even where the shop stores a line's amounts unrounded
(WooCommerce does with "round tax at subtotal level": `total` "795.996", `total_tax` "198.999").
Written for the mutation table (tests/reliability/README.md): with the reader's rounding of
line amounts off, only a refund test noticed."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from iexsync import config as config_module, mapping
from iexsync.document import DocumentKind
from iexsync.shops.woocommerce.order import parse_order
from tests.conftest import EXAMPLES, REPO

CENT = Decimal("0.01")


def unrounded_order() -> dict:
    order = json.loads((EXAMPLES / "1001.json").read_text())
    line = order["line_items"][0]  # 796.00 + 199.00 VAT, stored unrounded as a shop may
    line.update(subtotal="795.996", total="795.996", subtotal_tax="198.999", total_tax="198.999",
                taxes=[{"id": 1, "total": "198.999", "subtotal": "198.999"}])
    return order


@pytest.mark.parametrize("kind", [DocumentKind.INVOICE, DocumentKind.ORDER])
def test_unrounded_line_amounts_become_whole_cents(kind: DocumentKind) -> None:
    settings = config_module.load(REPO / "config.example.yaml")
    order = parse_order(copy.deepcopy(unrounded_order()))
    document = mapping.build_document(settings, order, kind)
    amounts = [(line.text, line.net, line.vat) for line in document.lines]
    assert [(text, net.quantize(CENT), vat.quantize(CENT)) for text, net, vat in amounts] == amounts
    assert [net for _, net, _ in amounts][:2] == [Decimal("796.00"), Decimal("472.00")]
    assert [vat for _, _, vat in amounts][:2] == [Decimal("199.00"), Decimal("118.00")]
    assert (document.totals.gross, document.totals.vat) == (Decimal("1646.25"), Decimal("329.25"))
    assert tuple(document.remarks) == ()  # rounded line by line, the lines are the shop's totals exactly
