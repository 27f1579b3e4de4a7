"""Which references the accounting system already holds, asked for in bulk on a fresh log.

A log that has recorded no document may be new or a lost one's replacement, so before
each document is written its reference is looked up. One `find` per document costs up
to five filtered searches each in e-conomic (3.5 × the writes themselves for a batch of
new orders). A connector that can list every document carrying one of our references
(`known_references(prefix, since)`, optional) is asked once instead, at the first
lookup of the run; the answers come from that listing. A connector without it, one
whose listing fails or is too long to hold, and a document dated before the listing's
window are looked up one by one with `find`, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

from iexsync.document import Document, DocumentRef
from iexsync.errors import OrderError

log = logging.getLogger(__name__)

_NOT_ASKED = object()


class ReferenceLookup:
    def __init__(self, books: Any, prefix: str, since: date | None = None):
        self.books = books
        self.prefix = prefix
        self.since = since  # documents dated before it are outside the listing
        self._known: Any = _NOT_ASKED  # reference → its document; None: no listing, ask `find`
        self._lock = threading.Lock()  # orders run on threads; the listing is made once

    def find(self, document: Document) -> DocumentRef | None:
        """The document already written under `document.reference`, or None."""
        known = self._listing(document)
        if known is None:
            return self.books.find(document.reference, document.kind)
        return known.get(document.reference)

    def absent(self, document: Document) -> bool:
        """Whether the listing shows that nothing was ever written under this reference."""
        known = self._listing(document)
        return known is not None and document.reference not in known

    def _listing(self, document: Document) -> Mapping[str, DocumentRef] | None:
        if not document.reference.startswith(self.prefix) or (self.since and document.date < self.since):
            return None
        with self._lock:
            if self._known is _NOT_ASKED:
                self._known = self._ask()
        return self._known

    def _ask(self) -> Mapping[str, DocumentRef] | None:
        listing = getattr(self.books, "known_references", None)
        if listing is None:
            return None
        try:
            return listing(self.prefix, self.since)
        except OrderError as exc:  # unreachable or rejected: each reference is looked up alone
            log.warning("listing the documents already written failed (%s); looking each one up instead", exc)
            return None
