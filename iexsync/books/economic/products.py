"""SKUs → e-conomic product numbers: found by number, created when allowed, cached.

A product found or created is remembered in the log, so later runs look it up no more
(checked again when a draft using it is rejected: deleted by hand?).
`GET /products/<number>` answers 404 for a missing product (productNumber is a string of
up to 25 characters, encoded in the URL by e-conomic's `_n_` scheme). The special products
(shipping, fee, discount, rounding, refund) come from the config and are created once
when missing, whatever `auto_create` says: they are the connector's, not the shop's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from iexsync import errors
from iexsync.books.economic.api import EconomicApi, resource_id
from iexsync.toolkit.cache import OnceCache, Remembered
from iexsync.books.economic.config import EconomicSettings

MAX_PRODUCT_NUMBER = 25

SPECIAL_NAMES = {
    "shipping": "Shipping",
    "shipping_vat_free": "Shipping (no VAT)",
    "fee": "Fee",
    "fee_vat_free": "Fee (no VAT)",
    "discount": "Discount",
    "discount_vat_free": "Discount (no VAT)",
    "rounding": "Rounding",
    "refund": "Refund",
    "refund_vat_free": "Refund (no VAT)",
    "gift_card": "Gift card",
}


class ProductCatalog:
    def __init__(self, api: EconomicApi, settings: EconomicSettings):
        self.api = api
        self.settings = settings
        self.cache: OnceCache[str] = OnceCache()
        self.memory = Remembered()

    def special(self, role: str) -> str:
        """The product number for a line role such as 'shipping_vat_free'; created if missing."""
        number = self.settings.skus[role]
        vat_free = role.endswith("_vat_free") or role == "rounding"
        group = self.settings.product_groups["vat_free" if vat_free else "standard"]
        return self.cache.get(number, lambda: self._resolve(number, SPECIAL_NAMES[role], group, None, f"accounting.products.skus.{role}", True))

    def gift_card(self) -> str:
        """The product for gift cards sold. Its group's account must be the gift card liability
        (a debt, without VAT): never revenue. Made in `product_groups.gift_cards` when that is
        set; otherwise the bookkeeper must have made it, and its absence is the order's error."""
        number = self.settings.skus["gift_card"]
        group = self.settings.product_groups.get("gift_cards")

        def resolve() -> str:
            if group is None and self.memory.recall(f"product:{number}") is None and not self.exists(number):
                raise errors.MappingError(
                    f"a gift card was sold, and its product '{number}' (accounting.products.skus.gift_card) is not in "
                    "e-conomic: make it in a product group whose account is your gift card liability, without VAT, "
                    "or set accounting.products.product_groups.gift_cards to such a group")
            return self._resolve(number, SPECIAL_NAMES["gift_card"], group or 0, None,
                                 "accounting.products.skus.gift_card", True)

        return self.cache.get(number, resolve)

    def product(self, sku: str, name: str, vat_free: bool, price: Decimal | None, label: str) -> str:
        """The product number for a shop SKU; `label` names the line in errors ("line 2")."""
        if len(sku) > MAX_PRODUCT_NUMBER:
            raise errors.MappingError(
                f"{label}: SKU '{_clip(sku)}' ({len(sku)} characters) is longer than the {MAX_PRODUCT_NUMBER} "
                "characters e-conomic allows "
                "for a product number; shorten it in the shop"
            )
        group = self.settings.product_groups["vat_free" if vat_free else "standard"]
        return self.cache.get(sku, lambda: self._resolve(sku, name, group, price, label, self.settings.auto_create_products))

    def _get(self, number: str) -> dict[str, Any] | None:
        return self.api.get(f"products/{resource_id(number)}", missing_ok=True)

    def exists(self, number: str) -> bool:
        return self._get(number) is not None

    def _resolve(self, number: str, name: str, group: int, price: Decimal | None, label: str, may_create: bool) -> str:
        if self.memory.recall(f"product:{number}") is not None:
            return number
        self._find_or_create(number, name, group, price, label, may_create)
        self.memory.remember(f"product:{number}", "1")
        return number

    def _find_or_create(self, number: str, name: str, group: int, price: Decimal | None, label: str, may_create: bool) -> None:
        if self.exists(number):
            return
        if not may_create:
            raise errors.MappingError(f"{label}: product '{number}' does not exist and auto_create is off")
        body: dict[str, Any] = {
            "productNumber": number,
            "name": (name or number)[:300],
            "productGroup": {"productGroupNumber": group},
        }
        if price is not None:
            body["salesPrice"] = price.quantize(Decimal("0.01"))
        try:
            self.api.post("products", body, subject=f"the new product '{number}' ({label})")
        except (errors.RemoteRejected, errors.OutcomeUnknown):
            # Another run may have created it meanwhile, or our POST landed unanswered.
            if not self.exists(number):
                raise


def _clip(text: str, keep: int = 40) -> str:
    """A value quoted in a message: its start, so a runaway SKU does not fill the log."""
    return text if len(text) <= keep else text[:keep] + "…"
