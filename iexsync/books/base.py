"""The Books protocol: small, so a new accounting system is a day's work.

Every write carries `document.reference`, and `find(reference)` must locate it again,
in whatever state it is now: that is what makes an interrupted run safe to resume.
Customers and products are resolved inside the connector, with a cache per run.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from iexsync.document import Document, DocumentKind, DocumentRef


class Memory(Protocol):
    """Kept in the log between runs: what a connector learnt about the accounting system
    (a buyer's customer number, that a product exists). A remembered value may have gone
    stale (deleted by hand): a connector checks it again when a write that used it fails."""

    def recall(self, key: str) -> str | None: ...

    def remember(self, key: str, value: str) -> None: ...

    def forget(self, key: str) -> None: ...


class Books(Protocol):
    CONFIG_SCHEMA: ClassVar[dict[str, Any]]  # its section; a secret field says "writeOnly": true
    name: str
    # How many orders may usefully be in flight at once (None: as many as transfer.workers).
    # A local ledger says 1: its writes are serial anyway, and its numbers then follow the orders.
    max_workers: ClassVar[int | None]

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "Books": ...

    def use_memory(self, memory: Memory) -> None:
        """Called once, before any write: where to remember things across runs. A connector
        with nothing worth remembering ignores it."""

    def check(self) -> None:
        """Raise CredentialsRejected if the credentials do not work; cheap."""

    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        """The document carrying this reference, or None if there is none.

        `kind`, when given, lets a connector search only where such documents live."""

    # Optional (iexsync/references.py): known_references(prefix, since) -> {reference: DocumentRef},
    # every document whose reference starts with `prefix`, dated `since` or later, or None if
    # too many to list. A fresh log then asks once instead of calling `find` per document.

    def create(self, document: Document) -> DocumentRef:
        """Write a new document (invoice or order) as a draft."""

    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        """Replace an unbooked draft's content with `document`'s."""

    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        """Book a draft invoice; the returned ref is booked and numbered.

        `document` is what the draft should hold, so a connector can check its totals first."""

    def status(self, ref: DocumentRef) -> DocumentRef | None:
        """The document as the accounting system has it now (never a remembered answer):
        booked or not, and its number there (booking renumbers it); None if it is gone.

        The engine asks before it says that something waits for a booking, because a
        bookkeeper may have booked the draft by hand. A connector without a cheaper read
        answers `find(ref.reference, ref.kind)`."""

    def delete(self, ref: DocumentRef) -> DocumentRef | None:
        """Remove an unbooked document (invoice draft, order): None once it is gone (or was
        gone already). A booked document is never removed: if it turns out booked (by hand,
        meanwhile), return it as it is now, and nothing is changed."""

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        """Write and book the credit note `document` against the booked `ref`.

        `resume`: an earlier attempt may have written it (the run was interrupted, the log
        is fresh, or the order failed before): find it first and finish it, never write it
        twice. Without it the engine vouches that no attempt was made: write at once."""

    def close(self) -> None: ...
