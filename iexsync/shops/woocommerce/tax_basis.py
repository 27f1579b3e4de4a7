"""The shop's "Calculate tax based on" setting (WooCommerce → Settings → Tax), which no order
carries: a connector's config takes it as `tax_based_on`. Apart from order.py so that the
connector's config schema is had without the order parser (an idle run parses no order)."""

from __future__ import annotations

from typing import Any

TAX_BASIS_SCHEMA: dict[str, Any] = {
    "enum": ["shipping", "billing", "base"], "default": "shipping",
    "description": "The address the shop taxes by (WooCommerce → Settings → Tax → Calculate tax based on): "
                   "shipping (WooCommerce's default), billing, or base (the shop's own address). "
                   "It places a tax rate that names no country, and a sale without VAT.",
}
