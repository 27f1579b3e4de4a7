"""The Beancount ledger's write strategy: a booking costs the same however long the ledger,
and a write torn by a crash or a full disk never leaves a broken or duplicated entry.

Counts, not timings: how often a run opens the ledger, and whether it ever rewrites it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, bean_check, expected_references, ledger_entries, make_orders, run_process, write_config


def workspace(tmp_path: Path, orders: int, refund_every: int = 0) -> tuple[Path, Path, Path]:
    folder = tmp_path / "orders"
    make_orders(folder, orders, refund_every=refund_every)
    config = write_config(tmp_path / "config.yaml", {
        "shop": {"path": "orders"},
        "transfer": {"allowed_states": ["completed"], "per_state": {}, "book": True, "require_sku": True},
    })
    return folder, config, tmp_path / "books" / "ledger.beancount"


def test_a_run_reads_the_ledger_once_and_never_rewrites_it(tmp_path: Path, cli) -> None:
    """30 invoices created and booked and 10 credit notes in one run: the ledger is opened
    for reading once (the index) and written only by appends and one-byte patches; no
    temporary file, no truncation. A rewrite per booking made a 6,000-order import crawl."""
    folder, config, ledger = workspace(tmp_path, 30, refund_every=3)
    assert cli("sync", "--config", config).exit_code == 0  # the first run makes the ledger
    make_orders(folder, 30, start=7000, refund_every=3)
    opened: list[tuple[str, int]] = []
    watching = [True]

    def audit(event: str, args: tuple) -> None:
        if watching[0] and event == "open" and isinstance(args[0], (str, os.PathLike)):
            path = Path(os.fsdecode(args[0]))
            if path.parent == ledger.parent:
                flags = args[2] if isinstance(args[2], int) else (os.O_WRONLY if "w" in (args[1] or "") else 0)
                opened.append((path.name, flags))

    sys.addaudithook(audit)  # audit hooks cannot be removed: `watching` switches it off
    try:
        result = cli("sync", "--config", config)
    finally:
        watching[0] = False
    assert result.exit_code == 0, result.output
    reads = [name for name, flags in opened if flags & (os.O_WRONLY | os.O_RDWR) == 0]
    writes = [(name, flags) for name, flags in opened if flags & (os.O_WRONLY | os.O_RDWR)]
    assert reads == [ledger.name]  # the index, once
    assert {name for name, _ in writes} == {ledger.name}  # never a temporary file beside it
    assert not any(flags & os.O_TRUNC for _, flags in writes)
    appends = [flags for _, flags in writes if flags & os.O_APPEND]
    assert len(appends) == 40  # 30 invoices + 10 credit notes
    assert len(writes) - len(appends) == 30  # each booking: one patch of the flag
    assert sorted(ledger_entries(ledger)) == expected_references(folder)
    assert bean_check(ledger) == []


def document_at_rate(rate: str):
    """An invoice whose one line carries VAT at `rate` %: 100.00 net."""
    from datetime import date
    from decimal import Decimal

    from iexsync.document import Document, DocumentKind, DocumentLine
    from iexsync.model import Customer, LineKind, Totals

    net, vat = Decimal("100.00"), Decimal(rate).quantize(Decimal("0.01"))
    line = DocumentLine(LineKind.PRODUCT, "Vase", Decimal(1), net, net, vat, Decimal(rate), "VASE")
    return Document(reference=f"test:vat{rate}", kind=DocumentKind.INVOICE, order_id="1", order_number="1",
                    date=date(2026, 1, 5), currency="DKK", customer=Customer("Ann"), lines=(line,),
                    totals=Totals(net, vat, net + vat))


def _books(ledger: Path):
    from iexsync.books.beancount import BeancountBooks

    return BeancountBooks(ledger, {}, "2000-01-01")


def test_every_torn_end_of_an_append_is_cut_and_nothing_else(tmp_path: Path) -> None:
    """A kill or power cut during an append leaves its front part: cut at every byte of the
    last entry (with the `open` directives written with it), the next reader removes
    exactly that part, the ledger passes bean-check, and the entry is not found (so the
    engine writes it again, once). The whole entry is kept and found."""
    folder, config, ledger = workspace(tmp_path, 3, refund_every=0)
    assert run_process("sync", "--config", config).returncode == 0
    whole = ledger.read_bytes()
    last = ledger_entries(ledger)[-1]
    start = whole.rindex(b"\n\n", 0, len(whole) - 2) + 2
    assert whole.endswith(b"\n\n")
    for size in range(start, len(whole) - 1):
        ledger.write_bytes(whole[:size])
        books = _books(ledger)
        assert books.find(last) is None, size
        assert ledger.read_bytes() == whole[:start], size
        assert bean_check(ledger) == [], size
    ledger.write_bytes(whole)
    assert _books(ledger).find(last) is not None
    assert ledger.read_bytes() == whole


def test_a_torn_append_with_its_open_directives_is_cut(tmp_path: Path) -> None:
    folder, config, ledger = workspace(tmp_path, 1)
    assert run_process("sync", "--config", config).returncode == 0
    before = ledger.read_bytes()
    books = _books(ledger)
    books.create(document_at_rate("12"))  # a new rate: new accounts, opened with the entry
    whole = ledger.read_bytes()
    assert b"open Income:Sales:Vat12" in whole[len(before):]
    for size in range(len(before) + 1, len(whole) - 1):
        ledger.write_bytes(whole[:size])
        books = _books(ledger)
        assert books.find("test:vat12") is None, size
        text = ledger.read_bytes()
        kept = text[len(before):].decode()
        assert text.startswith(before) and kept.endswith("\n") or kept == "", size  # whole lines only
        assert all(line.startswith("2000-01-01 open ") for line in kept.split("\n") if line), size  # opens at most
        assert bean_check(ledger) == [], size


def test_a_hand_written_end_is_left_alone(tmp_path: Path) -> None:
    """What follows the last blank line and is not iexsync's is never cut, newline or not."""
    folder, config, ledger = workspace(tmp_path, 1)
    assert run_process("sync", "--config", config).returncode == 0
    manual = b'2020-01-01 * "Bank" "Fee"\n  Expenses:Bank  1.00 USD\n  Assets:Bank  -1.00 USD'
    for tail in (manual, manual + b"\n"):
        ledger.write_bytes(ledger.read_bytes().rstrip(b"\n") + b"\n\n" + tail)
        expected = ledger.read_bytes()
        assert _books(ledger).find("nothing") is None
        assert ledger.read_bytes() == expected


def test_a_whole_entry_written_without_the_blank_line_after_it_is_kept(tmp_path: Path) -> None:
    """Ledgers written before entries ended with a blank line end with a whole entry and
    one newline: kept, and the next entry is separated from it by a blank line."""
    folder, config, ledger = workspace(tmp_path, 2)
    assert run_process("sync", "--config", config).returncode == 0
    old_style = ledger.read_bytes().rstrip(b"\n") + b"\n"
    ledger.write_bytes(old_style)
    books = _books(ledger)
    assert len([r for r in ledger_entries(ledger) if books.find(r)]) == 2
    books.create(document_at_rate("25"))
    assert ledger.read_bytes().startswith(old_style + b"\n")
    assert bean_check(ledger) == []


def test_a_write_that_fails_part_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """The file-size limit stands in for a full disk: the write of an entry fails after
    part of it; the ledger is cut back at once (exit 75, the intent open); the next run
    writes every document once and the ledger passes bean-check."""
    folder, config, ledger = workspace(tmp_path, 6, refund_every=2)
    ledger.parent.mkdir()
    # Hand-written history, large enough that the ledger (not the log) reaches the limit first.
    ledger.write_text("; kept by hand\n" + "; history\n" * 300_000 + "\n")
    limit = ledger.stat().st_size + 1500  # room for the opens and a few entries, not for all

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    first = subprocess.run([sys.executable, "-m", "iexsync", "sync", "--config", str(config)], cwd=REPO,
                           capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert first.returncode == 75, first.stdout + first.stderr
    assert "cannot write the ledger" in first.stdout + first.stderr
    written = ledger.read_bytes()
    assert written.endswith(b"\n\n") and len(written) <= limit  # cut back to its last whole entry
    assert bean_check(ledger) == []
    assert 0 < len(ledger_entries(ledger)) < len(expected_references(folder))
    final = run_process("sync", "--config", config)
    assert final.returncode == 0, final.stderr
    refs = ledger_entries(ledger)
    assert sorted(refs) == expected_references(folder)
    assert bean_check(ledger) == []


@pytest.mark.parametrize("cut", [1, 40, 200])
def test_a_crash_mid_append_then_a_clean_run_writes_it_once(tmp_path: Path, cut: int) -> None:
    """Killed right after an invoice's append (intent open), with the append torn `cut`
    bytes into the entry: the next run cuts the torn part, finds nothing by the
    reference, writes the invoice once and books it."""
    folder, config, ledger = workspace(tmp_path, 4)
    killed = subprocess.run([sys.executable, "-m", "tests.crash_runner", "after-create", "3", "--", "sync", "--config",
                             str(config)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    whole = ledger.read_bytes()
    start = whole.rindex(b"\n\n", 0, len(whole) - 2) + 2
    ledger.write_bytes(whole[: start + cut])
    final = run_process("sync", "--config", config)
    assert final.returncode == 0, final.stderr
    assert sorted(ledger_entries(ledger)) == expected_references(folder)
    assert bean_check(ledger) == []
