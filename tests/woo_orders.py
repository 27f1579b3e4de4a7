"""WooCommerce orders as a real shop computes them, for the VAT, totals and dates tests.

`woo_order(...)` builds the REST v3 JSON WooCommerce 7-8 answers for an order: each line's
tax rounded per line (WooCommerce's default; `round_at_subtotal` rounds the order's tax once
per rate instead, as the "Round tax at subtotal level" setting does), prices entered with or
without VAT, a percentage coupon spread over the lines, shipping taxed at the line rate, tax
lines named COUNTRY-STATE-NAME-PRIORITY (`SE-MOMS-1`), and every date as the shop's local time
with its GMT twin (the shop in Europe/Copenhagen: DST included). Amounts are strings with two
decimals, the `taxes[]` amounts unrounded, as WooCommerce sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
CENT = Decimal("0.01")


def r2(value: Decimal) -> Decimal:
    """PHP's round(x, 2): half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def text(value: Decimal) -> str:
    return f"{r2(value):.2f}"


@dataclass(frozen=True)
class Item:
    name: str
    sku: str
    quantity: int
    price: Decimal  # per unit as the shop shows it: with VAT if prices_include_tax
    rate: Decimal = Decimal(25)


def local_and_gmt(moment: datetime | None, zone: ZoneInfo = COPENHAGEN) -> tuple[str | None, str | None]:
    if moment is None:
        return None, None
    utc = moment.astimezone(timezone.utc)
    return utc.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S"), utc.strftime("%Y-%m-%dT%H:%M:%S")


def woo_order(
    order_id: int,
    items: list[Item],
    *,
    rate_code: str = "DK-MOMS-1",
    billing_country: str = "DK",
    shipping_country: str | None = None,
    prices_include_tax: bool = False,
    shipping: Decimal | None = Decimal("39.00"),
    coupon_percent: Decimal = Decimal(0),
    round_at_subtotal: bool = False,
    vat_number: str = "",
    company: str = "",
    status: str = "completed",
    currency: str = "DKK",
    created: datetime | None = None,
    paid: datetime | None = None,
    completed: datetime | None = None,
    payment_method: str = "stripe",
) -> dict[str, Any]:
    """One order; `items` all taxed by the one rate `rate_code` names (rate 0: untaxed)."""
    created = created or datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    rate_id = 1
    line_items, tax_exact_total, tax_rounded_total, net_total = [], Decimal(0), Decimal(0), Decimal(0)
    for index, item in enumerate(items):
        r = item.rate / 100
        shown = item.price * item.quantity
        if prices_include_tax:
            sub_tax_exact = shown * r / (1 + r)
            subtotal = r2(shown - sub_tax_exact)
        else:
            subtotal = r2(shown)
            sub_tax_exact = subtotal * r
        total = r2(subtotal * (1 - coupon_percent / 100))
        tax_exact = sub_tax_exact * (1 - coupon_percent / 100)
        taxes = [{"id": rate_id, "total": f"{tax_exact.normalize():f}", "subtotal": f"{sub_tax_exact.normalize():f}"}] if r else []
        line_items.append({
            "id": order_id * 100 + index, "name": item.name, "product_id": 100 + index, "variation_id": 0,
            "quantity": item.quantity, "tax_class": "", "subtotal": text(subtotal), "subtotal_tax": text(sub_tax_exact),
            "total": text(total), "total_tax": text(tax_exact), "taxes": taxes, "meta_data": [], "sku": item.sku,
            "price": float(r2(item.price)),
        })
        tax_exact_total += tax_exact
        tax_rounded_total += r2(tax_exact)
        net_total += total
    shipping_lines, shipping_tax = [], Decimal(0)
    rate = items[0].rate if items else Decimal(0)
    if shipping is not None:
        shipping_tax = r2(shipping * rate / 100)
        shipping_lines.append({
            "id": order_id * 100 + 90, "method_title": "PostNord", "method_id": "flat_rate:3",
            "total": text(shipping), "total_tax": text(shipping_tax),
            "taxes": [{"id": rate_id, "total": f"{(shipping * rate / 100).normalize():f}", "subtotal": ""}] if rate else [],
            "meta_data": [],
        })
    items_tax = r2(tax_exact_total) if round_at_subtotal else tax_rounded_total
    total_tax = items_tax + shipping_tax
    total = net_total + (shipping or Decimal(0)) + total_tax
    tax_lines = []
    if rate:
        tax_lines.append({"id": order_id * 100 + 95, "rate_code": rate_code, "rate_id": rate_id, "label": "Moms",
                          "compound": False, "tax_total": text(items_tax), "shipping_tax_total": text(shipping_tax),
                          "rate_percent": float(rate), "meta_data": []})
    discount = sum((Decimal(li["subtotal"]) - Decimal(li["total"]) for li in line_items), Decimal(0))
    shipping_country = shipping_country or billing_country
    dates: dict[str, Any] = {}
    for key, moment in (("date_created", created), ("date_modified", completed or paid or created),
                        ("date_paid", paid), ("date_completed", completed)):
        dates[key], dates[f"{key}_gmt"] = local_and_gmt(moment)
    meta = [{"id": 1, "key": "_billing_vat_number", "value": vat_number}] if vat_number else []
    return {
        "id": order_id, "parent_id": 0, "number": str(order_id), "order_key": f"wc_order_{order_id:013x}",
        "created_via": "checkout", "version": "8.2.1", "status": status, "currency": currency, **dates,
        "discount_total": text(discount), "discount_tax": "0.00", "shipping_total": text(shipping or Decimal(0)),
        "shipping_tax": text(shipping_tax), "cart_tax": text(items_tax), "total": text(total), "total_tax": text(total_tax),
        "prices_include_tax": prices_include_tax, "customer_id": 0, "customer_note": "",
        "billing": {"first_name": "Kim", "last_name": "Berg", "company": company, "address_1": "Storgatan 1",
                    "address_2": "", "city": "Malmö", "state": "", "postcode": "21122", "country": billing_country,
                    "email": f"buyer{order_id}@example.com", "phone": ""},
        "shipping": {"first_name": "Kim", "last_name": "Berg", "company": company, "address_1": "Hauptstraße 5",
                     "address_2": "", "city": "Flensburg", "state": "", "postcode": "24937", "country": shipping_country},
        "payment_method": payment_method, "payment_method_title": payment_method.title(), "transaction_id": "",
        "meta_data": meta, "line_items": line_items, "tax_lines": tax_lines, "shipping_lines": shipping_lines,
        "fee_lines": [], "coupon_lines": [{"id": 1, "code": "spring", "discount": text(discount)}] if discount else [],
        "refunds": [],
    }
