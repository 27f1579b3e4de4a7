"""A line's SKU → a Dinero product Guid (accounting.use_products): found by ProductNumber,
created when missing, remembered in the log between runs.

Dinero lets no client choose a product's Guid, so a create whose answer never came is
settled by searching again before anything else is written; a product is not money, so
the rare duplicate a lagging list could allow costs nothing in the books.
"""

from __future__ import annotations

from decimal import Decimal

from iexsync import errors
from iexsync.books.dinero.api import DineroApi, quoted
from iexsync.toolkit.cache import OnceCache, Remembered


class ProductCatalog:
    def __init__(self, api: DineroApi):
        self.api = api
        self.cache: OnceCache[str] = OnceCache()
        self.memory = Remembered()

    def guid_for(self, sku: str, name: str, account: int, price: Decimal) -> str:
        return self.cache.get(sku, lambda: self._resolve(sku, name, account, price))

    def exists(self, guid: str) -> bool:
        return self.api.get(f"products/{guid}", missing_ok=True) is not None

    def _resolve(self, sku: str, name: str, account: int, price: Decimal) -> str:
        key = f"product:{sku}"
        remembered = self.memory.recall(key)
        if remembered is not None:
            return remembered
        guid = self._find(sku) or self._create(sku, name, account, price)
        self.memory.remember(key, guid)
        return guid

    def _find(self, sku: str) -> str | None:
        found = self.api.list("products", query_filter=f"ProductNumber eq {quoted(sku, 'SKU')}",
                              fields="ProductGuid,ProductNumber,Name")
        exact = sorted(str(p["ProductGuid"]) for p in found if str(p.get("ProductNumber", "")).casefold() == sku.casefold())
        return exact[0] if exact else None

    def _create(self, sku: str, name: str, account: int, price: Decimal) -> str:
        body = {"ProductNumber": sku, "Name": (name or sku)[:255], "BaseAmountValue": price, "Quantity": Decimal(1),
                "AccountNumber": account, "Unit": "parts"}
        try:
            created = self.api.post("products", body, subject=f"the new product {sku!r}")
        except errors.OutcomeUnknown:
            found = self._find(sku)
            if found is None:
                raise
            return found
        return str(created["ProductGuid"])
