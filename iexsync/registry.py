"""Connector names → classes, imported only when used (start-up stays fast).

Built-in connectors are listed here; third parties add theirs through the entry-point
groups `iexsync.shops` and `iexsync.books`, with the same shape as the built-ins.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing itself is not imported: `log search` starts without it
if TYPE_CHECKING:
    from typing import Any

SHOPS = {
    "file": "iexsync.shops.file:FileShop",
    "woocommerce": "iexsync.shops.woocommerce:WooCommerceShop",
    "shopify": "iexsync.shops.shopify:ShopifyShop",
}
BOOKS = {
    "beancount": "iexsync.books.beancount:BeancountBooks",
    "economic": "iexsync.books.economic:EconomicBooks",
    "dinero": "iexsync.books.dinero:DineroBooks",
}
GROUPS = {"shops": (SHOPS, "iexsync.shops"), "books": (BOOKS, "iexsync.books")}


def entry_points(group: str, **match: str) -> Any:
    from importlib.metadata import entry_points as find  # slow to import: only when asked

    return find(group=group, **match)


def names(kind: str) -> list[str]:
    builtin, group = GROUPS[kind]
    return sorted(set(builtin) | {ep.name for ep in entry_points(group=group)})


def load(kind: str, name: str) -> Any:
    builtin, group = GROUPS[kind]
    target = builtin.get(name)
    if target is None:
        for ep in entry_points(group=group, name=name):
            return ep.load()
        raise KeyError(name)
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def available(kind: str) -> list[str]:
    """Names whose module is present in this installation (connectors land one by one)."""
    found = []
    for name in names(kind):
        try:
            load(kind, name)
        except (ImportError, AttributeError):
            continue
        found.append(name)
    return found
