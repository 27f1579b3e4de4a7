"""Plain-text double-entry books: each document a balanced Beancount transaction.

An invoice debits the receivable with the gross amount and credits revenue and output
VAT, one account per VAT rate; a draft is flagged `!`, a booked invoice `*`; a credit
note reverses the same accounts. An order document is not a booking, so it becomes a
`custom "iexsync-order"` entry that Beancount carries without posting it.
Every entry carries `iexsync-ref` metadata: `find` reads it back from an index built
once per run. A new entry is appended (one write, fsync), booking turns its `!` into `*`
in place (one byte), so a booking costs the same in a ledger of ten entries or of
100,000; only a draft's update rewrites the file (atomically). See ledgerfile.py for
what a crash can leave and _torn_tail for how it is repaired.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from iexsync.books.ledgerfile import LedgerFile
from iexsync import exchange, vat
from iexsync.document import Document, DocumentKind, DocumentRef
from iexsync.errors import ConfigError, DocumentExists, OrderError, RemoteRejected
from iexsync.model import LineKind, Totals
from iexsync.money import ZERO
from iexsync.toolkit.settings import with_defaults

log = logging.getLogger(__name__)
_ACCOUNT = re.compile(r"^[A-Z][A-Za-z0-9-]*(:[A-Z0-9][A-Za-z0-9-]*)+$")
_BLOCK_START = re.compile(r"^\d{4}-\d{2}-\d{2} ")
_META = re.compile(r'^  ([a-z][a-z0-9-]*): (?:"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?))$')

DEFAULT_ACCOUNTS = {
    "receivable": "Assets:Receivables:Customers",
    "revenue": "Income:Sales",
    "vat": "Liabilities:VAT:Output",
    "gift_cards": "Liabilities:GiftCards",
}


@dataclass
class _Entry:
    reference: str
    kind: DocumentKind
    number: str
    booked: bool
    start: int  # byte offset of the entry's first line
    end: int  # one past its last line's newline
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
                          "description": "The date the ledger opens the accounts it uses (an entry dated earlier opens its "
                                         "accounts on its own date)."},
            "home_country": {"type": "string", "pattern": "^[A-Z]{2}$", "default": "DK",
                             "description": "The business's country (ISO code): decides domestic, OSS, EU reverse-charge "
                                            "and export sales, each on its own accounts."},
            "exchange_rates": exchange.SCHEMA,
        },
    }
    name = "beancount"
    # `iexsync config init`'s section ({at}: what starter_at asked for)
    starter = """accounting:
  system: beancount           # a plain-text double-entry ledger
  path: {at}
"""
    starter_at = ("Ledger", "books/ledger.beancount")
    max_workers: ClassVar[int | None] = 1  # one file: writes are serial, numbers follow the orders

    def __init__(self, path: Path, accounts: Mapping[str, str], open_date: str, home_country: str = "DK",
                 rates: exchange.RatePolicy | None = None):
        self.path = path
        self.rates = exchange.ExchangeRates(rates or exchange.RatePolicy())
        self.home_country = home_country.upper()
        self.accounts = {**DEFAULT_ACCOUNTS, **accounts}
        self.open_date = open_date
        self._file = LedgerFile(path)
        self._index: dict[str, _Entry] | None = None  # reference → entry, read once per run
        self._lock = threading.RLock()  # orders run on threads; the ledger is one file
        self._opened: set[str] = set()
        self._counts: Counter[DocumentKind] = Counter()  # the highest number of each kind: the next is one more
        self._ending = b""  # the ledger's last two bytes: how the next append must begin

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "BeancountBooks":
        path = (base_dir / section["path"]).resolve()
        # The folder is made by the first write (a dry run makes nothing); here only whether it can be.
        existing = next(folder for folder in (path.parent, *path.parent.parents) if folder.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError([f"accounting.path: cannot make the folder for {path}: {existing} is not a writable folder"])
        given = with_defaults(cls.CONFIG_SCHEMA, section)
        return cls(path, given["accounts"], given["open_date"], given["home_country"],
                   exchange.RatePolicy.from_section(given["exchange_rates"]))

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
        self._append(self._render(document, self._next_number(document.kind), booked=False))
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
            self._set_booked(entry)
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
        self.rates.memory = memory  # the exchange rates used: a draft rewritten later keeps its rate

    @_serialised
    def credit(self, ref: DocumentRef, document: Document, *, resume: bool = False) -> DocumentRef:
        # The ledger is read anyway: it is always looked up, resume or not.
        if document.reference in self._entries():
            raise DocumentExists(_ref(self._entries()[document.reference]))
        invoice = self._require_entry(ref.reference)
        if not invoice.booked:
            raise RemoteRejected(f"invoice {invoice.number} is not booked, so it cannot be credited yet")
        self._append(self._render(document, self._next_number(DocumentKind.CREDIT_NOTE), booked=True))
        return self._require(document.reference)

    def close(self) -> None:
        pass

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
        }
        numbers = {"net": document.totals.net, "vat": document.totals.vat, "gross": document.totals.gross}
        if document.credits_reference:
            meta["credits"] = document.credits_reference
        if document.customer.vat_number:
            meta["vat-number"] = document.customer.vat_number
        treatment = self._treatment(document) if document.kind is not DocumentKind.ORDER else None
        if treatment is not None:
            meta["vat-treatment"] = treatment.kind.value
            meta["vat-country"] = treatment.country
        rate = self.rates.for_document(document.currency, document.date) if treatment is not None else None
        if rate is not None:
            meta["exchange-rate-date"] = rate.day.isoformat()
            numbers["exchange-rate"] = rate.per_100
        meta_lines = [f"  {key}: {_quote(value)}" for key, value in meta.items()]
        meta_lines += [f"  {key}: {value}" for key, value in numbers.items()]  # numbers: bean-query sums them
        day = document.date.isoformat()
        if document.kind is DocumentKind.ORDER:
            return [f'{day} custom "iexsync-order" {_quote(title)} {document.totals.gross} {document.currency}', *meta_lines]
        flag = "*" if booked else "!"
        return [f"{day} {flag} {_quote(payee)} {_quote(title)}", *meta_lines, *self._postings(document, rate)]

    def _treatment(self, document: Document) -> vat.VatTreatment:
        return vat.classify(document, self.home_country)

    def _accounts_for(self, treatment: vat.VatTreatment, rate: Decimal) -> tuple[str, str]:
        """Revenue and VAT accounts for a rate under a treatment: home sales by rate
        (Income:Sales:Vat25, Vat0 for a VAT-free home sale), EU reverse charge and exports on
        their own accounts (never mixed with a domestic 0 %), OSS and foreign VAT per country."""
        revenue, output = self.accounts["revenue"], self.accounts["vat"]
        kind = treatment.kind
        if kind is vat.Treatment.REVERSE_CHARGE:
            return f"{revenue}:EU-Reverse-Charge", output
        if kind is vat.Treatment.EXPORT:
            return f"{revenue}:Export", output
        if kind in (vat.Treatment.OSS, vat.Treatment.FOREIGN):
            scheme = "OSS" if kind is vat.Treatment.OSS else "Foreign"
            return (f"{revenue}:{scheme}:{treatment.country}:{_rate_name(rate)}",
                    f"{output}:{scheme}:{treatment.country}:{_rate_name(rate)}")
        return f"{revenue}:{_rate_name(rate)}", f"{output}:{_rate_name(rate)}"

    def _postings(self, document: Document, exchange_rate: exchange.Rate | None = None) -> list[str]:
        """The transaction's postings in the document's currency; a foreign-currency one with
        the rate as each posting's price (`@ 7.117366 DKK`), so its weight, and so every
        balance and report converted at it, is in the home currency at the document's rate."""
        sign = Decimal(-1) if document.kind is DocumentKind.CREDIT_NOTE else Decimal(1)
        treatment = self._treatment(document)
        revenue: dict[Decimal, Decimal] = {}
        vat: dict[Decimal, Decimal] = {}
        gift_cards = ZERO  # sold gift cards: owed to their holders until used, no revenue, no VAT
        for line in document.lines:
            if line.kind is LineKind.GIFT_CARD:
                gift_cards += line.net + line.vat
                continue
            revenue[line.vat_rate] = revenue.get(line.vat_rate, ZERO) + line.net
            vat[line.vat_rate] = vat.get(line.vat_rate, ZERO) + line.vat
        postings = [(self.accounts["receivable"], sign * document.totals.gross)]
        if gift_cards:
            postings.append((self.accounts["gift_cards"], -sign * gift_cards))
        for rate in sorted(revenue, reverse=True):
            revenue_account, vat_account = self._accounts_for(treatment, rate)
            if revenue[rate]:
                postings.append((revenue_account, -sign * revenue[rate]))
            if vat[rate]:
                postings.append((vat_account, -sign * vat[rate]))
        price = (f" @ {exchange_rate.per_unit.normalize():f} {exchange_rate.home_currency}"
                 if exchange_rate is not None else "")
        return [f"  {account:<40} {amount:>12} {document.currency}{price}" for account, amount in postings]

    # --- the file ----------------------------------------------------------------------------
    def _entries(self) -> dict[str, _Entry]:
        """The index of the ledger's entries: read once per run, then kept up to date by
        this object's own writes; read again only if someone else changed the file."""
        if self._index is None or self._file.changed():
            self._load()
        assert self._index is not None
        return self._index

    def _load(self) -> None:
        data = self._file.read()
        torn = _torn_tail(data, self.open_date)
        if torn is not None:
            log.warning("%s ends with an entry whose write was cut off (%d bytes); removed, the order is "
                        "written again", self.path, len(data) - torn)
            try:
                self._file.cut(torn)
            except OSError as exc:
                raise _ledger_unwritable(self.path, exc) from None
            data = data[:torn]
        self._index, self._opened, self._counts = {}, set(), Counter()
        self._take_in(data, 0)
        self._ending = data[-2:]

    def _take_in(self, data: bytes, base: int) -> None:
        """Add the entries and open directives in `data` (which starts at byte `base`) to the index."""
        entries, opened = _parse(data, base)
        assert self._index is not None
        for entry in entries:
            self._index[entry.reference] = entry
            # The highest number of each kind, not how many: after a draft was deleted (a
            # cancelled order's) the next number must still be a new one.
            highest = self._counts[entry.kind]
            self._counts[entry.kind] = max(highest, int(entry.number) if entry.number.isdigit() else highest + 1)
        self._opened |= opened

    def _next_number(self, kind: DocumentKind) -> str:
        self._entries()
        return str(self._counts[kind] + 1)

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
        opening = min(self.open_date, block[0][:10]) if block and _BLOCK_START.match(block[0]) else self.open_date
        return [f"{opening} open {account}" for account in new]

    def _append(self, block: list[str]) -> None:
        """One write at the end of the file: the cost does not grow with the ledger. Every
        entry ends with a blank line, so a torn one (see _torn_tail) is told from a whole one."""
        opens = self._opens(block)
        if not self._file.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = "; Written by iexsync: one transaction per document; `iexsync-ref` ties each to its order.\n\n"
        else:
            text = {b"\n\n": "", b"": ""}.get(self._ending, "\n" if self._ending.endswith(b"\n") else "\n\n")
        if opens:
            text += "\n".join(opens) + "\n\n"
        text += "\n".join(block) + "\n\n"
        data = text.encode("utf-8")
        try:
            start = self._file.append(data)
        except OSError as exc:
            self._index = None  # read again: the file is as it was, or its torn tail is cut then
            raise _ledger_unwritable(self.path, exc) from None
        self._take_in(data, start)
        self._ending = data[-2:]

    def _set_booked(self, entry: _Entry) -> None:
        """`!` becomes `*` in place: one byte, which a crash cannot tear."""
        try:
            self._file.patch(entry.start + _FLAG_AT, b"!", b"*")
        except LookupError:
            self._index = None  # not where the index says: read the file again
            raise OrderError(f"the ledger {self.path} changed under this run; run again") from None
        except OSError as exc:
            raise _ledger_unwritable(self.path, exc) from None
        entry.booked = True

    def _replace(self, entry: _Entry, block: list[str]) -> None:
        """A draft's new content: the whole file is written again (rare: an order changed
        before its invoice was booked), atomically."""
        data = self._file.read()
        opens = self._opens(block)
        middle = "\n".join([*opens, *([""] if opens else []), *block]) + "\n"
        try:
            self._file.replace(data[: entry.start] + middle.encode("utf-8") + data[entry.end:])
        except OSError as exc:
            raise _ledger_unwritable(self.path, exc) from None
        self._index = None


# The flag of a transaction's first line, after "YYYY-MM-DD ".
_FLAG_AT = 11
# The first line of an entry iexsync writes (a transaction or an order's custom entry).
_OUR_HEADER = re.compile(r'^\d{4}-\d{2}-\d{2} (?:[!*] "|custom "iexsync-order")')
_REF = "  iexsync-ref: "
_POSTING = re.compile(r"^  ([A-Z][^\s]*)\s+(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9'._-]*)\s*$")


def _torn_tail(data: bytes, open_date: str) -> int | None:
    """Where a torn append starts, if the ledger ends with one; None if it ends whole.

    Every append ends with a blank line, so only the text after the last blank line can be
    torn. It is cut only when it is surely iexsync's and surely not whole: a line without
    its newline that starts an entry or an `open` of ours, an entry's first line alone,
    or an entry carrying `iexsync-ref` whose postings are missing or do not balance (a
    custom entry: no `gross`). Anything else there (a hand-written entry, a whole entry
    written before entries ended with a blank line) is left as it is."""
    blank = data.rfind(b"\n\n")
    start = blank + 2 if blank >= 0 else 0
    tail = data[start:]
    if not tail:
        return None
    lines = tail.decode("utf-8", errors="replace").split("\n")
    ended = lines[-1] == ""
    if ended:
        lines.pop()
    ours = any(line.startswith(_REF) for line in lines)
    if not ended:
        opening = f"{open_date} open "  # the `open` directives written with an entry
        if len(lines) == 1:
            ours = _starts_our_entry(lines[0])
        else:  # iexsync-ref is an entry's second line
            ours = bool(_OUR_HEADER.match(lines[0])) and (lines[1].startswith(_REF) or _REF.startswith(lines[1]))
        ours = ours or all(line.startswith(opening) or (number == len(lines) - 1 and opening.startswith(line))
                           for number, line in enumerate(lines))
        return start if ours else None
    if not ours:  # cut right after an entry's first line (iexsync-ref is the next), or not ours
        return start if len(lines) == 1 and _OUR_HEADER.match(lines[0]) else None
    if not _BLOCK_START.match(lines[0]):
        return None
    if _OUR_HEADER.match(lines[0]) and lines[0][_FLAG_AT] in "!*":
        return None if _balances(lines[1:]) else start
    return None if any(line.startswith("  gross: ") for line in lines) else start


def _starts_our_entry(line: str) -> bool:
    """Whether `line` is the first line of an entry iexsync writes, or the front part of one."""
    if len(line) <= _FLAG_AT:
        return all(c.isdigit() if shape == "0" else c == shape for c, shape in zip(line, "0000-00-00 "))
    if not _BLOCK_START.match(line):
        return False
    rest = line[_FLAG_AT:]
    return any(rest.startswith(kind) or kind.startswith(rest) for kind in ('! "', '* "', 'custom "iexsync-order"'))


def _balances(lines: list[str]) -> bool:
    """Whether a transaction's lines hold postings that sum to zero per currency. A posting
    in a form this does not read counts as whole: a tail is cut only when surely torn."""
    sums: dict[str, Decimal] = {}
    postings = 0
    for line in lines:
        if _META.match(line):
            continue
        match = _POSTING.match(line)
        if match is None:
            return True
        postings += 1
        sums[match.group(3)] = sums.get(match.group(3), ZERO) + Decimal(match.group(2))
    return postings > 0 and not any(sums.values())


def _parse(data: bytes, base: int = 0) -> tuple[list[_Entry], set[str]]:
    """The iexsync entries and opened accounts in `data`; offsets count from byte `base`."""
    entries: list[_Entry] = []
    opened: set[str] = set()
    raw = data.split(b"\n")
    offsets = [base]
    for line in raw:
        offsets.append(offsets[-1] + len(line) + 1)
    lines = [line.decode("utf-8", errors="replace") for line in raw]
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
                meta[match.group(1)] = _unquote(match.group(2)) if match.group(3) is None else match.group(3)
            end += 1
        if "iexsync-ref" in meta:
            totals = None
            if {"net", "vat", "gross"} <= meta.keys():
                totals = Totals(Decimal(meta["net"]), Decimal(meta["vat"]), Decimal(meta["gross"]))
            entries.append(_Entry(
                reference=meta["iexsync-ref"],
                kind=DocumentKind(meta.get("document", "invoice")),
                number=meta.get("document-number", ""),
                booked=len(parts) > 1 and parts[1] == "*",
                start=offsets[index],
                end=min(offsets[end], base + len(data)),
                totals=totals,
            ))
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
