"""1. Crash anywhere, for every books connector: SIGKILL the real `iexsync sync` at each
named point between "intent recorded" and "log committed" (tests/reliability/crash.py),
and at random moments. After one final clean run: every expected document exists exactly
once (booked), none is missing, nothing unexpected, the log passes integrity_check and
holds no open intent and no live claim.

Parametrised over every registered books connector plus the memory double, which refuses
nothing itself (a Beancount ledger refuses a second entry with the same reference, so
against it alone a missing intent would go unnoticed). A connector without a crash
backend here fails: add one to CRASH_BACKENDS (a few lines: its section and a way to list
what it holds).

Fast: 4 random kills over 20 orders, then every point once, in one chain over 40 more.
Full (`-m slow`): each point × 25 runs over 200 orders (+50 refunds), and 200 random kills.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iexsync import registry
from tests.conftest import bean_check, ledger_entries
from tests.reliability.crash import HTTP_POINTS, POINTS, TEST_BOOKS
from tests.reliability.support import (
    COLLECTOR, REPO, assert_no_crash, base_env, check_log, documents, duplicate_customers, economic,
    expected_references, make_orders, record, run_iexsync, write_config,
)

LATENCY = 0.002  # a little server time, so "request-sent" kills land before and after the fake acts


@dataclass
class Books:
    """A books connector as the harness sees it: its config section, and what it holds."""

    section: dict[str, Any]
    held: Callable[[], Counter]  # reference → how many documents carry it
    unbooked: Callable[[], list[str]] = lambda: []  # references of drafts left unbooked
    checks: Callable[[], dict[str, int]] = lambda: {}  # more counts that must be 0 (duplicate customers)
    files: list[Path] = field(default_factory=list)  # what it wrote, for the secrets scan
    talks_http: bool = True  # the HTTP kill points apply


@contextmanager
def beancount(folder: Path) -> Iterator[Books]:
    ledger = folder / "books" / "ledger.beancount"

    def unbooked() -> list[str]:
        lines = ledger.read_text().splitlines() if ledger.exists() else []
        flagged = [i for i, line in enumerate(lines) if line[:1].isdigit() and " ! " in line]
        return [lines[i + 1].split('"')[1] for i in flagged if i + 1 < len(lines) and "iexsync-ref" in lines[i + 1]]

    yield Books({"system": "beancount", "path": "books/ledger.beancount"}, lambda: Counter(ledger_entries(ledger)),
                unbooked, lambda: {"bean-check errors": len(bean_check(ledger)) if ledger.exists() else 0}, [ledger],
                talks_http=False)


@contextmanager
def economic_books(folder: Path) -> Iterator[Books]:
    with economic(latency=LATENCY) as (fake, server):
        def unbooked() -> list[str]:
            with fake.lock:
                return sorted((d.get("references") or {}).get("other", "") for d in fake.drafts.values())

        yield Books({"system": "economic", "url": server.url, "app_secret_token": "${ECONOMIC_APP_SECRET_TOKEN}",
                     "agreement_grant_token": "${ECONOMIC_AGREEMENT_GRANT_TOKEN}"},
                    lambda: documents(fake), unbooked, lambda: {"duplicate customers": duplicate_customers(fake)})


# Orders are paid by card (demo order 1001: Stripe): with a deposit account for it, booking an
# invoice registers its payment, one more write a kill can interrupt.
DINERO_PAYMENTS = {"payments": {"methods": {"stripe": {"condition": "Paid", "deposit_account": 55010}}}}


@contextmanager
def dinero(folder: Path) -> Iterator[Books]:
    from tests.fakes.dinero import FakeDinero
    from tests.fakes.server import FakeServer
    from tests.test_dinero_support import WINDOW, section

    fake = FakeDinero(window=WINDOW)
    with FakeServer(fake, latency=LATENCY) as server:
        def live() -> list[dict[str, Any]]:
            with fake.lock:
                return [d for store in (fake.invoices, fake.creditnotes) for d in store.values() if not d.get("DeletedAt")]

        def checks() -> dict[str, int]:
            """Each booked invoice paid exactly once, for its total; one contact per buyer."""
            with fake.lock:
                booked = {guid: fake._document_view(d) for guid, d in fake.invoices.items()
                          if d["Status"] == "Booked" and not d.get("DeletedAt")}
                payments = {guid: list(fake.payments.get(guid, [])) for guid in booked}
                buyers = Counter(c.get("Email") for c in fake.contacts.values() if not c.get("DeletedAt"))
            return {
                "payments twice": sum(max(0, len(p) - 1) for p in payments.values()),
                "booked invoices unpaid": sum(1 for p in payments.values() if not p),
                "payments of another amount": sum(1 for guid, p in payments.items()
                                                  for one in p if one["Amount"] != booked[guid]["TotalInclVat"]),
                "duplicate contacts": sum(n - 1 for n in buyers.values()),
            }

        yield Books(section(server.url, **DINERO_PAYMENTS), lambda: Counter(d.get("ExternalReference") for d in live()),
                    lambda: sorted(d.get("ExternalReference") or "" for d in live() if d["Status"] == "Draft"), checks)


@contextmanager
def memory(folder: Path) -> Iterator[Books]:
    journal = folder / "memory-books.json"

    def entries() -> list[dict[str, Any]]:
        return json.loads(journal.read_text()) if journal.exists() else []

    yield Books({"system": "memory", "journal": "memory-books.json"},
                lambda: Counter(e["reference"] for e in entries()),
                lambda: sorted(e["reference"] for e in entries() if not e["booked"]), files=[journal], talks_http=False)


CRASH_BACKENDS: dict[str, Callable[[Path], Any]] = {
    "beancount": beancount, "economic": economic_books, "dinero": dinero, "memory": memory,
}
SYSTEMS = sorted({*registry.names("books"), *TEST_BOOKS})


def backend(system: str) -> Callable[[Path], Any]:
    if system not in CRASH_BACKENDS:
        pytest.fail(f"the books connector {system!r} has no crash backend: add one to CRASH_BACKENDS in {__file__}")
    return CRASH_BACKENDS[system]


def harness(point: str, occurrence: int, config: Path) -> list[str]:
    return [sys.executable, "-m", "tests.reliability.crash", point, str(occurrence), "--", "sync", "--config", str(config)]


def crash_run(tally, point: str, occurrence: int, config: Path) -> subprocess.CompletedProcess:
    return run_iexsync(tally, command=harness(point, occurrence, config), timeout=300)


def workspace(folder: Path, books: Books, count: int) -> tuple[Path, list[dict]]:
    orders = make_orders(folder / "orders", count, refund_every=4)
    COLLECTOR.files.extend(books.files)
    return write_config(folder, "", books=books.section), orders


def chain(talks_http: bool) -> list[tuple[str, int]]:
    """Every point once (the first write's answer twice), those that need work still to do
    first; HTTP points where the connector talks HTTP."""
    steps = [
        ("answer-received", 1),  # the run's first write: a new buyer's customer (the batch brings new buyers)
        ("after-credit", 1), ("before-create", 2), ("request-sent", 2), ("before-request", 3), ("answer-received", 2),
        ("after-create", 2), ("before-book", 1), ("after-book", 2), ("intent-committed", 3),
        ("inside-log-transaction", 2), ("before-commit", 2), ("after-commit", 3), ("before-cursor", 1),
    ]
    return [(p, n) for p, n in steps if talks_http or p not in HTTP_POINTS]


def finish_and_check(tally, books: Books, folder: Path, config: Path, orders: list[dict]) -> None:
    """One clean run, then: exactly once, nothing lost, nothing left unbooked, the log intact.
    The counts go into the tally first, so a failing row shows what it found."""
    final = crash_run(tally, "none", 0, config)
    held = books.held()
    expected = expected_references(orders)
    duplicates = sorted(r for r, n in held.items() if n > 1)
    lost = [r for r in expected if not held.get(r)]
    unexpected = sorted(set(held) - set(expected))
    log = check_log(folder / "iexsync.db")
    extra = books.checks()
    tally.add(orders=len(orders), documents=len(expected), duplicates=sum(n - 1 for n in held.values() if n > 1),
              lost=len(lost), recovered=log["recovered"], still_due=log["due"], **{k.replace(" ", "_"): v for k, v in extra.items()})
    assert_no_crash(final, allowed=(0,))
    assert (duplicates, lost, unexpected, books.unbooked()) == ([], [], [], [])
    assert extra == {k: 0 for k in extra}
    assert log["integrity"] == "ok"
    assert log["intents"] == 0 and log["live_claims"] == 0
    assert log["transferred"] == {str(o["id"]) for o in orders}


class Seller:
    """The shop keeps selling: each call adds a batch of new orders (every 4th with a refund),
    some from new buyers, so kills land on creating a customer too."""

    def __init__(self, folder: Path, orders: list[dict], *, start: int, batch: int):
        self.folder, self.orders, self.next, self.batch = folder, orders, start, batch

    def __call__(self, count: int | None = None) -> None:
        count = count or self.batch
        self.orders += make_orders(self.folder, count, start=self.next, refund_every=4, first_buyer=self.next)
        self.next += count


def kill_at_random_moments(tally, config: Path, *, kills: int, rng: random.Random, more_orders=None,
                           low: float = 0.3, high: float = 1.2, max_runs: int = 2000) -> None:
    """Start a sync and SIGKILL it after a random pause, until `kills` runs were really killed
    mid-run. When a run finishes before its kill (nothing left to do), `more_orders()` lets
    the shop sell some more, so the kills keep landing on work."""
    killed = 0
    for _ in range(max_runs):
        if killed >= kills:
            return
        process = subprocess.Popen(harness("none", 0, config), cwd=REPO, env=base_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        time.sleep(rng.uniform(low, high))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        out, err = process.communicate(timeout=300)
        record(tally, subprocess.CompletedProcess(process.args, process.returncode, out, err))
        assert "Traceback" not in err, err[-3000:]
        if process.returncode == -signal.SIGKILL:
            killed += 1
        elif more_orders is not None:
            more_orders()  # it finished first: nothing left to do, so the shop sells some more
    raise AssertionError(f"only {killed} of {kills} kills landed in {max_runs} runs")


@pytest.mark.parametrize("system", SYSTEMS)
def test_kill_at_every_point_then_a_clean_run(tmp_path: Path, tally, system: str) -> None:
    assert {p for p, _ in chain(talks_http=True)} == set(POINTS)
    with backend(system)(tmp_path) as books:
        config, orders = workspace(tmp_path, books, 20)
        more = Seller(tmp_path / "orders", orders, start=51_000, batch=5)
        kill_at_random_moments(tally, config, kills=4, rng=random.Random(6), more_orders=more, low=0.3, high=0.9)
        more(40)
        for point, occurrence in chain(books.talks_http):
            result = crash_run(tally, point, occurrence, config)
            assert result.returncode == -signal.SIGKILL, f"{point} was not reached: {result.stderr[-2000:]}"
        finish_and_check(tally, books, tmp_path, config, orders)


# How often a point is reached in one run, at most, where that is far below 40: the Nth time
# is drawn up to this, so most runs die there (the cursor is moved once per run).
MOST_HITS = {"before-cursor": 1, "after-credit": 4, "before-create": 12, "after-create": 12, "before-book": 12,
             "after-book": 12, "after-commit": 12}


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_each_point_full_size(tmp_path: Path, tally, system: str, point: str) -> None:
    """25 runs over 200 orders (50 with a refund), each killed at the Nth time the point is reached."""
    rng = random.Random(point)
    with backend(system)(tmp_path) as books:
        if point not in dict(chain(books.talks_http)):
            pytest.skip(f"{system} talks no HTTP")
        config, orders = workspace(tmp_path, books, 200)
        first = crash_run(tally, point, 1, config)
        assert first.returncode == -signal.SIGKILL, f"{point} was not reached: {first.stderr[-2000:]}"
        for _ in range(24):
            result = crash_run(tally, point, rng.randint(1, MOST_HITS.get(point, 40)), config)
            assert_no_crash(result, allowed=(0, -signal.SIGKILL))
        finish_and_check(tally, books, tmp_path, config, orders)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("system", SYSTEMS)
def test_kill_at_random_moments_full_size(tmp_path: Path, tally, system: str) -> None:
    """200 runs killed at random moments mid-run, while the shop keeps selling."""
    with backend(system)(tmp_path) as books:
        config, orders = workspace(tmp_path, books, 20)
        more = Seller(tmp_path / "orders", orders, start=60_000, batch=10)
        kill_at_random_moments(tally, config, kills=200, rng=random.Random(2), more_orders=more)
        finish_and_check(tally, books, tmp_path, config, orders)


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_lost_log_writes_nothing_again(tmp_path: Path, tally, system: str) -> None:
    """The log deleted (a new machine, a wiped disk): a log that has recorded nothing looks
    every document up before writing it, so the books' documents are adopted, not doubled."""
    with backend(system)(tmp_path) as books:
        config, orders = workspace(tmp_path, books, 12)
        assert_no_crash(crash_run(tally, "none", 0, config), allowed=(0,))
        for leftover in tmp_path.glob("iexsync.db*"):
            leftover.unlink()
        again = run_iexsync(tally, command=[*harness("none", 0, config), "--verbose"])
        held = books.held()
        tally.add(orders=len(orders), documents=len(held), duplicates=sum(n - 1 for n in held.values() if n > 1))
        assert_no_crash(again, allowed=(0,))
        assert "recorded, not written again" in again.stdout
        assert sorted(held) == expected_references(orders) and set(held.values()) == {1}


@pytest.mark.xfail(strict=True, reason="not promised today: only a log that has recorded nothing looks documents up "
                   "before writing them; a log restored from an older backup knows some documents, so the ones made "
                   "after the backup are written again")
def test_a_log_restored_from_an_older_backup_writes_nothing_again(tmp_path: Path, tally) -> None:
    with memory(tmp_path) as books:
        config, orders = workspace(tmp_path, books, 6)
        assert_no_crash(crash_run(tally, "none", 0, config), allowed=(0,))
        backup = tmp_path / "backup"
        backup.mkdir()
        for part in tmp_path.glob("iexsync.db*"):
            shutil.copy2(part, backup / part.name)
        orders += make_orders(tmp_path / "orders", 6, start=52_000)
        assert_no_crash(crash_run(tally, "none", 0, config), allowed=(0,))
        for part in tmp_path.glob("iexsync.db*"):
            part.unlink()
        for part in backup.iterdir():
            shutil.copy2(part, tmp_path / part.name)
        assert_no_crash(crash_run(tally, "none", 0, config), allowed=(0,))
        held = books.held()
        tally.add(orders=len(orders), documents=len(held), duplicates=sum(n - 1 for n in held.values() if n > 1))
        assert sorted(held) == expected_references(orders) and set(held.values()) == {1}
