"""Books held in memory, and a way to run the real `iexsync` against them.

    python -m bench.books_double sync --config FILE     (with accounting.system: memory)

The bound of "what the ledger itself costs": the same import with books that cost
nothing but a dict. It keeps the protocol's promises (numbers per kind, a reference found
again, booked stays booked) and `max_workers = 1` like the ledger, so the two runs differ
in the books alone. Not tests/contract/memory.py's MemoryBooks: that one keeps every
write in a list to show duplicates, so its lookups and numbers scan the list (an import of
10,000 orders into it grows quadratic, a bound that would flatter the ledger), and it lets
orders run on the default workers, which the ledger does not.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from iexsync.document import Document, DocumentKind, DocumentRef
from iexsync.errors import DocumentExists, OrderError, RemoteRejected


class MemoryBooks:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}
    name = "memory"
    max_workers: ClassVar[int | None] = 1

    def __init__(self) -> None:
        self._documents: dict[str, DocumentRef] = {}
        self._counts: Counter[DocumentKind] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "MemoryBooks":
        return cls()

    def use_memory(self, memory: Any) -> None:
        pass

    def check(self) -> None:
        pass

    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        return self._documents.get(reference)

    def create(self, document: Document, *, booked: bool = False) -> DocumentRef:
        with self._lock:
            if document.reference in self._documents:
                raise DocumentExists(self._documents[document.reference])
            self._counts[document.kind] += 1
            ref = DocumentRef(document.reference, document.kind, str(self._counts[document.kind]),
                              booked=booked, totals=document.totals)
            self._documents[document.reference] = ref
            return ref

    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        current = self._require(ref.reference)
        if current.booked:
            raise RemoteRejected(f"{current.number} is booked")
        self._documents[ref.reference] = replace(current, totals=document.totals)
        return self._documents[ref.reference]

    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        current = self._require(ref.reference)
        if current.kind is not DocumentKind.INVOICE:
            raise RemoteRejected("only an invoice can be booked")
        self._documents[ref.reference] = replace(current, booked=True)
        return self._documents[ref.reference]

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        if document.reference in self._documents:
            raise DocumentExists(self._documents[document.reference])
        if not self._require(ref.reference).booked:
            raise RemoteRejected("the invoice is not booked")
        return self.create(document, booked=True)

    def close(self) -> None:
        pass

    def _require(self, reference: str) -> DocumentRef:
        found = self._documents.get(reference)
        if found is None:
            raise OrderError(f"no document {reference}")
        return found


def main() -> None:
    from iexsync import registry

    registry.BOOKS["memory"] = "bench.books_double:MemoryBooks"
    from iexsync.cli import cli

    cli(sys.argv[1:], prog_name="iexsync")


if __name__ == "__main__":
    main()
