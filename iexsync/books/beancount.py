"""Plain-text double-entry books: each document a balanced Beancount transaction.

An invoice debits the receivable with the gross amount and credits revenue and output
VAT, one account per VAT rate; a draft is flagged `!`, a booked invoice `*`; a credit
note reverses the same accounts. An order document is not a booking, so it becomes a
`custom "iexsync-order"` entry that Beancount carries without posting it.
Every entry carries `iexsync-ref` metadata: `find` reads it back. Appends are a single
write followed by fsync; rewrites (update, book) go to a temporary file that replaces
the ledger atomically, so a kill at any instant leaves a whole ledger.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from iexsync.document import Document, DocumentKind, DocumentRef
from iexsync.errors import ConfigError, DocumentExists, OrderError, RemoteRejected
from iexsync.model import Totals
from iexsync.money import ZERO

_ACCOUNT = re.compile(r"^[A-Z][A-Za-z0-9-]*(:[A-Z0-9][A-Za-z0-9-]*)+$")
_BLOCK_START = re.compile(r"^\d{4}-\d{2}-\d{2} ")
_META = re.compile(r'^  ([a-z][a-z0-9-]*): "((?:[^"\\]|\\.)*)"$')

DEFAULT_ACCOUNTS = {
    "receivable": "Assets:Receivables:Customers",
    "revenue": "Income:Sales",
    "vat": "Liabilities:VAT:Output",
}


@dataclass
class _Entry:
    reference: str
    kind: DocumentKind
    number: str
    booked: bool
    start: int  # line index of the entry's first line
    end: int  # one past its last line
    totals: Totals | None


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def locked(self: "BeancountBooks", *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


class BeancountBooks:
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "object",
        "required": ["path"],
        "properties": {
            "path": {"type": "string", "description": "The ledger file, relative to the config file; made if missing."},
            "accounts": {
                "type": "object",
                "additionalProperties": False,
                "default": DEFAULT_ACCOUNTS,
                "description": "Account roots; revenue and VAT get one sub-account per VAT rate (e.g. Income:Sales:Vat25).",
                "properties": {
                    name: {"type": "string", "pattern": _ACCOUNT.pattern, "default": default}
                    for name, default in DEFAULT_ACCOUNTS.items()
                },
            },
            "open_date": {"type": "string", "format": "date", "default": "2000-01-01",
                          "description": "The date the ledger opens the accounts it uses."},
        },
    }
    name = "beancount"
    max_workers: ClassVar[int | None] = 1  # one file: writes are serial, numbers follow the orders

    def __init__(self, path: Path, accounts: Mapping[str, str], open_date: str):
        self.path = path
        self.accounts = {**DEFAULT_ACCOUNTS, **accounts}
        self.open_date = open_date
        self._index: dict[str, _Entry] | None = None
        self._lock = threading.RLock()  # orders run on threads; the ledger is one file
        self._opened: set[str] = set()
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "BeancountBooks":
        path = (base_dir / section["path"]).resolve()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError([f"accounting.path: cannot make the folder for {path}: {exc.strerror}"]) from None
        return cls(path, section.get("accounts", {}), section.get("open_date", "2000-01-01"))

    # --- the protocol ------------------------------------------------------------------------
    def check(self) -> None:
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise ConfigError([f"accounting.path: {self.path} is not writable"])

    @_serialised
    def find(self, reference: str, kind: DocumentKind | None = None) -> DocumentRef | None:
        entry = self._entries().get(reference)
        return _ref(entry) if entry else None

    @_serialised
    def create(self, document: Document) -> DocumentRef:
        if document.reference in self._entries():
            raise DocumentExists(_ref(self._entries()[document.reference]))
        number = self._next_number(document.kind)
        self._append(self._render(document, number, booked=False))
        return self._require(document.reference)

    @_serialised
    def update(self, ref: DocumentRef, document: Document) -> DocumentRef:
        entry = self._require_entry(ref.reference)
        if entry.booked:
            raise RemoteRejected(f"{ref.kind.value} {ref.number} is booked; a booked entry is never changed")
        self._replace(entry, self._render(document, entry.number, booked=False))
        return self._require(ref.reference)

    @_serialised
    def book(self, ref: DocumentRef, document: Document | None = None) -> DocumentRef:
        entry = self._require_entry(ref.reference)
        if entry.kind is not DocumentKind.INVOICE:
            raise RemoteRejected(f"only an invoice can be booked, not {entry.kind.value} {entry.number}")
        if not entry.booked:
            lines = self._lines()
            header = lines[entry.start]
            lines[entry.start] = header.replace(" ! ", " * ", 1)
            self._write_all(lines[: entry.start], [lines[entry.start]], lines[entry.start + 1: entry.end], lines[entry.end:])
        return self._require(ref.reference)

    @_serialised
    def status(self, ref: DocumentRef) -> DocumentRef | None:
        return self.find(ref.reference, ref.kind)  # the ledger as it is on disk now (edited by hand, say)

    @_serialised
    def delete(self, ref: DocumentRef) -> DocumentRef | None:
        """Remove an unbooked entry (a `!` invoice, an order entry); a booked one stays."""
        entry = self._entries().get(ref.reference)
        if entry is None:
            return None
        if entry.booked:
            return _ref(entry)
        self._replace(entry, [])
        return None

    @_serialised
    def use_memory(self, memory: Any) -> None:
        pass  # the ledger is local: nothing to save a lookup on

    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        # The ledger is read anyway: it is always looked up, resume or not.
        if document.reference in self._entries():
            raise DocumentExists(_ref(self._entries()[document.reference]))
        invoice = self._require_entry(ref.reference)
        if not invoice.booked:
            raise RemoteRejected(f"invoice {invoice.number} is not booked, so it cannot be credited yet")
        number = self._next_number(DocumentKind.CREDIT_NOTE)
        self._append(self._render(document, number, booked=True))
        return self._require(document.reference)

    def close(self) -> None:
        pass

    def _next_number(self, kind: DocumentKind) -> str:
        """One past the highest number of this kind: a deleted draft's number is never reused."""
        numbers = [int(e.number) for e in self._entries().values() if e.kind is kind and e.number.isdigit()]
        return str(max(numbers, default=0) + 1)

    # --- rendering ---------------------------------------------------------------------------
    def _render(self, document: Document, number: str, *, booked: bool) -> list[str]:
        title = {
            DocumentKind.INVOICE: f"Invoice {number} for order {document.order_number}",
            DocumentKind.ORDER: f"Order {number} for order {document.order_number}",
            DocumentKind.CREDIT_NOTE: f"Credit note {number} for order {document.order_number}",
        }[document.kind]
        if document.kind is not DocumentKind.CREDIT_NOTE:
            title = document.fields.get("heading", title)
        payee = document.customer.company or document.customer.name
        meta = {
            "iexsync-ref": document.reference,
            "document": document.kind.value,
            "document-number": number,
            "order-number": document.order_number,
            "net": str(document.totals.net),
            "vat": str(document.totals.vat),
            "gross": str(document.totals.gross),
        }
        if document.credits_reference:
            meta["credits"] = document.credits_reference
        if document.customer.vat_number:
            meta["vat-number"] = document.customer.vat_number
        meta_lines = [f"  {key}: {_quote(value)}" for key, value in meta.items()]
        day = document.date.isoformat()
        if document.kind is DocumentKind.ORDER:
            return [f'{day} custom "iexsync-order" {_quote(title)} {document.totals.gross} {document.currency}', *meta_lines]
        flag = "*" if booked else "!"
        return [f"{day} {flag} {_quote(payee)} {_quote(title)}", *meta_lines, *self._postings(document)]

    def _postings(self, document: Document) -> list[str]:
        sign = Decimal(-1) if document.kind is DocumentKind.CREDIT_NOTE else Decimal(1)
        revenue: dict[Decimal, Decimal] = {}
        vat: dict[Decimal, Decimal] = {}
        for line in document.lines:
            revenue[line.vat_rate] = revenue.get(line.vat_rate, ZERO) + line.net
            vat[line.vat_rate] = vat.get(line.vat_rate, ZERO) + line.vat
        postings = [(self.accounts["receivable"], sign * document.totals.gross)]
        for rate in sorted(revenue, reverse=True):
            if revenue[rate]:
                postings.append((f"{self.accounts['revenue']}:{_rate_name(rate)}", -sign * revenue[rate]))
            if vat[rate]:
                postings.append((f"{self.accounts['vat']}:{_rate_name(rate)}", -sign * vat[rate]))
        return [f"  {account:<40} {amount:>12} {document.currency}" for account, amount in postings]

    # --- the file ----------------------------------------------------------------------------
    def _lines(self) -> list[str]:
        try:
            return self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []

    def _entries(self) -> dict[str, _Entry]:
        stamp = self._file_stamp()
        if self._index is None or stamp != self._stamp:
            self._index, self._opened = _parse(self._lines())
            self._stamp = stamp
        return self._index

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _require(self, reference: str) -> DocumentRef:
        return _ref(self._require_entry(reference))

    def _require_entry(self, reference: str) -> _Entry:
        entry = self._entries().get(reference)
        if entry is None:
            raise OrderError(f"the ledger {self.path} has no entry {reference}")
        return entry

    def _opens(self, block: list[str]) -> list[str]:
        """`open` directives for accounts this block uses that the ledger has not opened."""
        self._entries()
        accounts = [line.split()[0] for line in block if line.startswith("  ") and not _META.match(line)]
        new = [a for a in dict.fromkeys(accounts) if a not in self._opened]
        return [f"{self.open_date} open {account}" for account in new]

    def _append(self, block: list[str]) -> None:
        opens = self._opens(block)
        text = ""
        if self._file_stamp() is None:
            text += '; Written by iexsync: one transaction per document; `iexsync-ref` ties each to its order.\n'
        if opens:
            text += "\n" + "\n".join(opens) + "\n"
        text += "\n" + "\n".join(block) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(text)  # one write: a kill leaves all of the entry or none of it
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise _ledger_unwritable(self.path, exc) from None
        self._index = None

    def _replace(self, entry: _Entry, block: list[str]) -> None:
        lines = self._lines()
        opens = self._opens(block)
        before = lines[: entry.start]
        if opens:
            before = before + opens + [""]
        self._write_all(before, block, [], lines[entry.end:])

    def _write_all(self, *parts: list[str]) -> None:
        text = "\n".join(line for part in parts for line in part) + "\n"
        try:
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise _ledger_unwritable(self.path, exc) from None
        self._index = None


def _parse(lines: list[str]) -> tuple[dict[str, _Entry], set[str]]:
    entries: dict[str, _Entry] = {}
    opened: set[str] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not _BLOCK_START.match(line):
            index += 1
            continue
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "open":
            opened.add(parts[2])
        end = index + 1
        meta: dict[str, str] = {}
        while end < len(lines) and lines[end].startswith("  "):
            match = _META.match(lines[end])
            if match:
                meta[match.group(1)] = _unquote(match.group(2))
            end += 1
        if "iexsync-ref" in meta:
            totals = None
            if {"net", "vat", "gross"} <= meta.keys():
                totals = Totals(Decimal(meta["net"]), Decimal(meta["vat"]), Decimal(meta["gross"]))
            entries[meta["iexsync-ref"]] = _Entry(
                reference=meta["iexsync-ref"],
                kind=DocumentKind(meta.get("document", "invoice")),
                number=meta.get("document-number", ""),
                booked=len(parts) > 1 and parts[1] == "*",
                start=index,
                end=end,
                totals=totals,
            )
        index = end
    return entries, opened


def _ref(entry: _Entry) -> DocumentRef:
    return DocumentRef(reference=entry.reference, kind=entry.kind, number=entry.number, booked=entry.booked,
                       totals=entry.totals)


def _rate_name(rate: Decimal) -> str:
    """25 → Vat25, 7.5 → Vat7-5: Beancount account components allow no dot."""
    return "Vat" + format(rate.normalize(), "f").replace(".", "-")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _ledger_unwritable(path: Path, exc: OSError) -> Exception:
    from iexsync.errors import TemporaryFailure

    return TemporaryFailure(f"cannot write the ledger {path}: {exc.strerror} (disk full or read-only?)")
