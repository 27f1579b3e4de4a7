"""The four orders (and two refunds) the WooCommerce fake builds its shop from.

With the vendor folder present these are the documentation's own examples (orders 723
completed with refunds 726 and 724, 727 and 729 processing, 728 pending). In a clone
without it they are our lookalikes: the demo's Danish orders (examples/orders, ours)
given the same ids, states and refund ids, so every test of our own behaviour runs the
same in any clone. A test about the vendor's content itself (its totals, its names)
uses tests.vendor.vendor_json and is skipped without the folder.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from tests.vendor import REPO, vendor_path

ORDER_IDS = (727, 728, 729, 723)  # the order generate() cycles through; 723 carries the refunds
REFUND_IDS = (726, 724)
_LOOKALIKE = {727: ("1005", "processing"), 728: ("1008", "pending"), 729: ("1010", "processing"), 723: ("1006", "completed")}


def from_vendor() -> bool:
    return all(vendor_path("woocommerce", "orders", f"order-{n}.json") for n in ORDER_IDS) and all(
        vendor_path("woocommerce", "refunds", f"refund-{n}.json") for n in REFUND_IDS)


def order(order_id: int) -> dict[str, Any]:
    """Example order 723, 727, 728 or 729 (a fresh copy)."""
    return copy.deepcopy(_orders()[order_id])


def refund(refund_id: int) -> dict[str, Any]:
    """Example refund 726 (of order 723's shipping... or goodwill) or 724 (one returned item)."""
    return copy.deepcopy(_refunds()[refund_id])


@cache
def _orders() -> dict[int, dict[str, Any]]:
    if from_vendor():
        return {n: _read(vendor_path("woocommerce", "orders", f"order-{n}.json")) for n in ORDER_IDS}
    built = {}
    for order_id, (demo, status) in _LOOKALIKE.items():
        raw = _read(REPO / "examples" / "orders" / f"{demo}.json")
        # in the vendor's currency, so a test sets up its books for USD in any clone
        raw.update(id=order_id, number=str(order_id), status=status, refunds=[], currency="USD", currency_symbol="$")
        built[order_id] = raw
    shipping, item = (_refunds()[n] for n in REFUND_IDS)
    built[723]["refunds"] = [{"id": r["id"], "reason": r["reason"], "total": f"-{r['amount']}"} for r in (shipping, item)]
    return built


@cache
def _refunds() -> dict[int, dict[str, Any]]:
    if from_vendor():
        return {n: _read(vendor_path("woocommerce", "refunds", f"refund-{n}.json")) for n in REFUND_IDS}
    # Ours, shaped as WooCommerce writes a refund: 726 gives back an amount without lines,
    # 724 returns one unit of the order's first line (net 100.00 + 25.00 VAT).
    returned = _read(REPO / "examples" / "orders" / "1006.json")["line_items"][0]
    common = {"refunded_by": 1, "refunded_payment": False, "meta_data": [],
              "date_created": "2026-01-20T10:00:00", "date_created_gmt": "2026-01-20T09:00:00"}
    return {
        726: {"id": 726, "amount": "49.00", "reason": "Shipping refunded", **common, "line_items": []},
        724: {"id": 724, "amount": "125.00", "reason": "", **common, "line_items": [{
            "id": 7231, "name": returned["name"], "product_id": returned["product_id"], "variation_id": 0,
            "quantity": -1, "tax_class": "", "subtotal": "-100.00", "subtotal_tax": "-25.00", "total": "-100.00",
            "total_tax": "-25.00", "taxes": [{"id": 1, "total": "-25", "subtotal": "-25"}],
            "meta_data": [{"id": 9001, "key": "_refunded_item_id", "value": str(returned["id"])}],
            "sku": returned["sku"], "price": -100}]},
    }


def _read(path: Any) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
