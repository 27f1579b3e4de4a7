"""In-memory doubles of a shop and an accounting system, for fast engine tests.

`MemoryBooks` keeps every document it is given and refuses nothing on its own: a second
create with the same reference is a second document. So the engine's exactly-once
guarantees, proven against it, are the engine's, not a ledger's that would have refused
the duplicate anyway. `written()` lists every reference written, duplicates kept.

`MemoryShop` holds canonical orders (or BrokenOrders, for an order the platform cannot
read) with their modification times, and answers `changed_orders(since)` as a shop with a
change feed does. Neither touches disk or network.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from iexsync import errors
from iexsync.document import Document, DocumentKind, DocumentRef
from iexsync.model import Order, Refund
from iexsync.shops.base import BrokenOrder, ShopItem
from iexsync.shops.woocommerce.order import parse_order

REPO = Path(__file__).resolve().parents[2]


class MemoryBooks:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    name = "memory"
    max_workers: ClassVar[int | None] = None

    def __init__(self) -> None:
        self.documents: list[tuple[DocumentRef, Document]] = []  # in the order written, duplicates kept
        self.calls: list[str] = []  # "create <reference>", "book <reference>", ...
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "MemoryBooks":
        return cls()

    def use_memory(self, memory: Any) -> None:
        pass

    def check(self) -> None:
        pass

    def written(self) -> list[str]:
        """Every reference written, duplicates kept (a duplicate is the engine's fault)."""
        with self._lock:
            return [ref.reference for ref, _ in self.documents]

    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        with self._lock:
            self.calls.append(f"find {reference}")
            found = [ref for ref, _ in self.documents if ref.reference == reference and kind in (None, ref.kind)]
        return found[0] if found else None

    def create(self, document: Document) -> DocumentRef:
        return self._write(document, booked=document.kind is DocumentKind.CREDIT_NOTE)

    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        with self._lock:
            self.calls.append(f"update {ref.reference}")
            index = self._index(ref.reference)
            current, _ = self.documents[index]
            if current.booked:
                raise errors.RemoteRejected(f"{ref.kind.value} {ref.number} is booked; a booked document is never changed")
            updated = dataclasses.replace(current, totals=document.totals)
            self.documents[index] = (updated, document)
            return updated

    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        with self._lock:
            self.calls.append(f"book {ref.reference}")
            index = self._index(ref.reference)
            current, held = self.documents[index]
            if current.kind is not DocumentKind.INVOICE:
                raise errors.RemoteRejected(f"only an invoice can be booked, not {current.kind.value} {current.number}")
            booked = dataclasses.replace(current, booked=True)
            self.documents[index] = (booked, held)
            return booked

    def status(self, ref: DocumentRef) -> DocumentRef | None:
        return self.find(ref.reference, ref.kind)

    def delete(self, ref: DocumentRef) -> DocumentRef | None:
        with self._lock:
            self.calls.append(f"delete {ref.reference}")
            for index, (current, _) in enumerate(self.documents):
                if current.reference == ref.reference:
                    if current.booked:
                        return current  # a booked document is never removed
                    del self.documents[index]
                    return None
            return None

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        invoice = self.find(ref.reference)
        if invoice is None or not invoice.booked:
            raise errors.RemoteRejected(f"invoice {ref.number} is not booked, so it cannot be credited yet")
        if resume:
            found = self.find(document.reference, DocumentKind.CREDIT_NOTE)
            if found is not None:
                return found
        return self._write(document, booked=True)

    def close(self) -> None:
        pass

    def _write(self, document: Document, *, booked: bool) -> DocumentRef:
        with self._lock:
            self.calls.append(f"create {document.reference}")
            number = str(1 + sum(1 for ref, _ in self.documents if ref.kind is document.kind))
            ref = DocumentRef(document.reference, document.kind, number, booked=booked, totals=document.totals)
            self.documents.append((ref, document))
            return ref

    def _index(self, reference: str) -> int:
        for index, (ref, _) in enumerate(self.documents):
            if ref.reference == reference:
                return index
        raise errors.OrderError(f"no document {reference}")


class MemoryShop:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    name = "memory"

    def __init__(self) -> None:
        self.items: dict[str, ShopItem] = {}
        self.refund_reads: list[str] = []

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "MemoryShop":
        return cls()

    def put(self, item: ShopItem) -> ShopItem:
        self.items[item.order_id] = item
        return item

    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Orders saved at or after `since`, in its whole second (shops keep seconds)."""
        floor = since.replace(microsecond=0) if since is not None else None
        for item in sorted(self.items.values(), key=lambda i: (len(i.order_id), i.order_id)):
            if floor is None or item.modified is None or item.modified >= floor:
                yield item

    def get_order(self, order_id: str) -> ShopItem:
        if order_id not in self.items:
            raise errors.OrderInvalid(f"order {order_id} is not in the shop")
        return self.items[order_id]

    def refunds(self, order: Order) -> tuple[Refund, ...]:
        self.refund_reads.append(order.order_id)
        return order.refunds

    def states(self) -> list[tuple[str, int | None]]:
        counts: dict[str, int] = {}
        for item in self.items.values():
            counts[item.state] = counts.get(item.state, 0) + 1
        return sorted(counts.items())

    def close(self) -> None:
        pass


def demo_raw(template: int = 1001, **changes: Any) -> dict[str, Any]:
    """Demo order `template` (examples/orders, WooCommerce-shaped) with `changes` applied."""
    raw = json.loads((REPO / "examples" / "orders" / f"{template}.json").read_text())
    raw.update(copy.deepcopy(changes))
    return raw


def demo_order(template: int = 1001, **changes: Any) -> Order:
    return parse_order(demo_raw(template, **changes))
