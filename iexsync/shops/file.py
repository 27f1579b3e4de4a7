"""A folder of order JSON files as the shop: the embedded demo, imports of exported orders,
and a platform-free way to test a config.

Each `*.json` file holds one order (or a list of orders) in the WooCommerce REST v3 shape.
A file that is not valid JSON, or an order that cannot be read, is an error for that
order alone. A folder sends no webhooks: it is no WebhookSource.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from iexsync.errors import ConfigError, OrderInvalid, OrderNotFound
from iexsync.model import Order, Refund
from iexsync.shops.base import BrokenOrder, ShopItem
from iexsync.shops.woocommerce.order import parse_order
from iexsync.shops.woocommerce.tax_basis import TAX_BASIS_SCHEMA

MAX_FILE_BYTES = 50 * 1024 * 1024


class FileShop:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["path"],
        "properties": {
            "path": {"type": "string", "description": "A folder of order JSON files (WooCommerce REST v3 shape), relative to the config file."},
            "tax_based_on": TAX_BASIS_SCHEMA,
        },
    }
    name = "file"
    # `iexsync config init`'s section ({at}: what starter_at asked for)
    starter = """shop:
  platform: file              # a folder of WooCommerce-shaped order JSON files
  path: {at}
"""
    starter_at = ("Shop folder", "orders")

    def __init__(self, folder: Path, tax_basis: str = "shipping"):
        self.folder = folder
        self.tax_basis = tax_basis

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "FileShop":
        folder = (base_dir / section["path"]).resolve()
        if not folder.is_dir():
            raise ConfigError([f"shop.path: {folder} is not a folder of order files"])
        return cls(folder, section.get("tax_based_on", "shipping"))

    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Every order in the folder, whatever `since` says.

        A folder has no trustworthy change feed (an export of old orders may be dropped in
        at any time, with old modification dates), so each run reads every file; the log
        makes an unchanged order cost nothing but the reading.
        """
        yield from self._all()

    def get_order(self, order_id: str) -> ShopItem:
        for item in self._all():
            if item.order_id == order_id:
                return item
        raise OrderNotFound(f"order {order_id} is not in {self.folder} any more")

    def refunds(self, order: Order) -> tuple[Refund, ...]:
        return order.refunds  # a file holds all there is to know

    def states(self) -> list[tuple[str, int | None]]:
        counts: dict[str, int] = {}
        for item in self._all():
            if item.state:
                counts[item.state] = counts.get(item.state, 0) + 1
        return sorted(counts.items())

    def close(self) -> None:
        pass

    def _all(self) -> Iterator[ShopItem]:
        # Names, not Path objects: a folder of 50,000 exported orders stays a small list.
        with os.scandir(self.folder) as entries:
            names = sorted(e.name for e in entries if e.name.endswith(".json") and not e.name.startswith("."))
        for name in names:
            yield from _read(self.folder / name, self.tax_basis)


def _read(path: Path, tax_basis: str = "shipping") -> Iterator[ShopItem]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"it is larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        yield BrokenOrder(order_id=f"file:{path.name}", error=f"{path.name} is not a readable JSON order: {exc}")
        return
    orders = data if isinstance(data, list) else [data]
    for index, raw in enumerate(orders):
        try:
            yield parse_order(raw, tax_basis=tax_basis)
        except OrderInvalid as exc:
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            order_id = str(raw_id) if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) and str(raw_id) else f"file:{path.name}#{index}"
            yield BrokenOrder(
                order_id=order_id,
                error=f"{path.name}: {exc.message}",
                number=str(raw.get("number", "")) if isinstance(raw, dict) and isinstance(raw.get("number"), (str, int)) else "",
                state=str(raw.get("status", "")) if isinstance(raw, dict) and isinstance(raw.get("status"), str) else "",
                raw=raw if isinstance(raw, dict) else {},
            )
