"""What the reliability tests share: the tally, the test secrets, the real `iexsync` as a
subprocess, order folders, the fake e-conomic behind a loopback server, and the one
exactly-once check every test ends with.

Nothing of iexsync is replaced here: each run is `python -m iexsync ...` in its own
process, talking real HTTP to the fakes in this (the pytest) process.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from iexsync.store import process_alive
from tests.fakes.economic import FakeEconomic
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "orders"

# --- the test secrets: every output and every log is scanned for them (test_zz_secrets) ----
SECRETS = {
    "ECONOMIC_APP_SECRET_TOKEN": "relAppS3cret-7f3a9c2e5b1d48",
    "ECONOMIC_AGREEMENT_GRANT_TOKEN": "relGrantT0ken-c81e4a6f0d2b97",
    "WC_CONSUMER_KEY": "ck_rel5e3c7a1f9b2d4e6a8c0b1d3f5a7c9e1b3d5f7a9",
    "WC_CONSUMER_SECRET": "cs_rel0a2c4e6b8d1f3a5c7e9b2d4f6a8c1e3b5d7f9",
    "WC_WEBHOOK_SECRET": "relWebh00kS3cret-4b6d8f0a2c",
}
SECRET_ENV = dict(SECRETS)


def secret_needles() -> dict[str, str]:
    """Each secret in the forms it could leak in: plain, URL-encoded, in a Basic auth header."""
    needles = {}
    for name, value in SECRETS.items():
        needles[name] = value
        needles[f"{name} (url-encoded)"] = quote(value, safe="")
    basic = f"{SECRETS['WC_CONSUMER_KEY']}:{SECRETS['WC_CONSUMER_SECRET']}"
    needles["WooCommerce Basic auth header"] = base64.b64encode(basic.encode()).decode()
    return {k: v for k, v in needles.items() if v}


# --- the tally -------------------------------------------------------------------------------
COLUMNS = ("runs", "kills", "faults", "orders", "documents", "lookups", "duplicates", "lost")


@dataclass
class Row:
    name: str
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    outcome: str = ""


class Collector:
    """Session-wide: one row per test, printed as a table at the end (see conftest.py), and
    everything any run printed plus every log it wrote, for the final secrets scan."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.outputs: list[tuple[str, str]] = []  # (where, text)
        self.databases: list[Path] = []
        self.files: list[Path] = []  # other files iexsync wrote (ledgers)
        self.lock = threading.Lock()

    def row(self, name: str) -> Row:
        with self.lock:
            return self.rows.setdefault(name, Row(name))

    def output(self, where: str, text: str) -> None:
        if text:
            with self.lock:
                self.outputs.append((where, text))

    def database(self, path: Path) -> None:
        with self.lock:
            if path not in self.databases:
                self.databases.append(path)

    def totals(self, rows: list[Row] | None = None) -> Counter:
        """The sum over `rows` (default: every row, the expected failures that pin known gaps too)."""
        total: Counter = Counter()
        for row in rows if rows is not None else list(self.rows.values()):
            total.update(row.counts)
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": [
                {"test": r.name, **{c: r.counts.get(c, 0) for c in COLUMNS}, "seconds": round(r.seconds, 1),
                 "outcome": r.outcome, "notes": r.notes, "detail": dict(r.counts)}
                for r in self.rows.values()
            ],
            "totals": {c: self.totals().get(c, 0) for c in COLUMNS},
        }


COLLECTOR = Collector()


class Tally:
    """The counts of one test: `tally.add(runs=1)`, `tally.note("...")`."""

    def __init__(self, name: str):
        self.name = name
        self.row = COLLECTOR.row(name)
        self.current = ""

    def add(self, **counts: int) -> None:
        with COLLECTOR.lock:
            self.row.counts.update({k: v for k, v in counts.items() if v})

    def note(self, text: str) -> None:
        with COLLECTOR.lock:
            self.row.notes.append(text)


# --- running the real thing -------------------------------------------------------------------
def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IEXSYNC_")}
    env.update(SECRET_ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def iexsync_command(*args: Any) -> list[str]:
    return [sys.executable, "-m", "iexsync", *map(str, args)]


def run_iexsync(tally: Tally | None, *args: Any, env: dict[str, str] | None = None, timeout: float = 300,
                command: list[str] | None = None, **popen: Any) -> subprocess.CompletedProcess:
    """One real run, waited for; its output is kept for the secrets scan."""
    started = time.monotonic()
    result = subprocess.run(
        command or iexsync_command(*args), capture_output=True, text=True, timeout=timeout, cwd=REPO,
        env=base_env(env), stdin=subprocess.DEVNULL, **popen,
    )
    result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    record(tally, result)
    return result


def record(tally: Tally | None, result: subprocess.CompletedProcess) -> None:
    where = " ".join(map(str, result.args[2:5])) if isinstance(result.args, list) else "run"
    COLLECTOR.output(f"{tally.name if tally else ''} {where} stdout", result.stdout or "")
    COLLECTOR.output(f"{tally.name if tally else ''} {where} stderr", result.stderr or "")
    if tally is not None:
        tally.add(runs=1)
        if result.returncode == -signal.SIGKILL:
            tally.add(kills=1)


def assert_no_crash(result: subprocess.CompletedProcess, allowed: Iterable[int] = (0, 1)) -> None:
    """A run may end with order errors, never with a traceback."""
    text = (result.stdout or "") + (result.stderr or "")
    assert "Traceback" not in text, text[-4000:]
    assert result.returncode in tuple(allowed), f"exit {result.returncode}: {text[-4000:]}"


# --- orders ----------------------------------------------------------------------------------
def demo_order(number: int = 1001) -> dict[str, Any]:
    return json.loads((DEMO / f"{number}.json").read_text(encoding="utf-8"))


def make_orders(folder: Path, count: int, *, start: int = 50_000, refund_every: int = 0, customers: int = 7,
                status: str = "completed", first_buyer: int = 0) -> list[dict[str, Any]]:
    """`count` valid orders (demo order 1001, 1646.25 DKK) one file each, spread over
    `customers` buyers (numbered from `first_buyer`); every `refund_every`th carries a refund
    of 100.00 (id = order id * 10)."""
    template = demo_order(1001)
    folder.mkdir(parents=True, exist_ok=True)
    orders = []
    for index in range(count):
        order = copy.deepcopy(template)
        order_id = start + index
        buyer = first_buyer + index % customers
        order.update(id=order_id, number=str(order_id), status=status, customer_id=100 + buyer)
        order["billing"].update(email=f"buyer{buyer}@example.dk", company=f"Kunde {buyer} ApS")
        order["shipping"]["company"] = f"Kunde {buyer} ApS"
        if refund_every and index % refund_every == 0:
            order["refunds"] = [{"id": order_id * 10, "reason": "Returned", "total": "-100.00"}]
        (folder / f"{order_id}.json").write_text(json.dumps(order), encoding="utf-8")
        orders.append(order)
    return orders


def expected_references(orders: Iterable[dict[str, Any]], allowed: tuple[str, ...] = ("completed",)) -> list[str]:
    refs = []
    for order in orders:
        if order.get("status") not in allowed:
            continue
        refs.append(f"iexsync:woocommerce:{order['id']}:invoice")
        refs += [f"iexsync:woocommerce:{order['id']}:credit_note:{r['id']}" for r in order.get("refunds", [])]
    return sorted(refs)


def folder_orders(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


# --- the fake e-conomic ----------------------------------------------------------------------------
def new_fake_economic(**kwargs: Any) -> FakeEconomic:
    return FakeEconomic(app_secret_token=SECRETS["ECONOMIC_APP_SECRET_TOKEN"],
                        agreement_grant_token=SECRETS["ECONOMIC_AGREEMENT_GRANT_TOKEN"], **kwargs)


@contextmanager
def economic(latency: float = 0.0, app: Callable | None = None, **kwargs: Any) -> Iterator[tuple[FakeEconomic, FakeServer]]:
    """A fresh fake e-conomic on its own loopback port (`app` may wrap it)."""
    fake = new_fake_economic(**kwargs)
    with FakeServer(app(fake) if app else fake, latency=latency) as server:
        yield fake, server


def write_config(folder: Path, accounting_url: str, *, transfer: dict[str, Any] | None = None,
                 accounting: dict[str, Any] | None = None, log: dict[str, Any] | None = None,
                 shop: dict[str, Any] | None = None, mode: int = 0o600, books: dict[str, Any] | None = None) -> Path:
    """A config for the file shop (folder/orders) into the fake e-conomic (or the `books`
    section given), secrets from the environment, log beside it."""
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = shop or {"platform": "file", "path": "orders"}
    tree["accounting"] = books or {
        "system": "economic", "url": accounting_url,
        "app_secret_token": "${ECONOMIC_APP_SECRET_TOKEN}",
        "agreement_grant_token": "${ECONOMIC_AGREEMENT_GRANT_TOKEN}",
        **(accounting or {}),
    }
    tree["transfer"] = {"allowed_states": ["completed"], "book": True, "require_sku": True,
                        "start_date": "2026-01-01", **(transfer or {})}
    tree["log"] = {"path": "iexsync.db", **(log or {})}
    path = folder / "config.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
    path.chmod(mode)
    COLLECTOR.database(folder / tree["log"]["path"])
    return path


def documents(fake: FakeEconomic) -> Counter:
    """Reference → how many documents carry it (drafts, booked invoices, orders)."""
    found: Counter = Counter()
    with fake.lock:
        for store in (fake.drafts, fake.booked, fake.orders, fake.sent_orders, fake.archived_orders):
            for document in store.values():
                found[(document.get("references") or {}).get("other", "")] += 1
    return found


@dataclass
class Verdict:
    expected: int
    duplicates: list[str]
    lost: list[str]
    unexpected: list[str]
    unbooked: list[str]

    @property
    def ok(self) -> bool:
        return not (self.duplicates or self.lost or self.unexpected or self.unbooked)

    def __str__(self) -> str:
        return (f"expected {self.expected}: duplicates {self.duplicates[:10]}, lost {self.lost[:10]}, "
                f"unexpected {self.unexpected[:10]}, unbooked {self.unbooked[:10]}")


def verdict(fake: FakeEconomic, expected: Iterable[str], *, booked: bool = True) -> Verdict:
    expected = sorted(set(expected))
    found = documents(fake)
    duplicates = sorted(r for r, n in found.items() if n > 1)
    lost = [r for r in expected if found.get(r, 0) == 0]
    unexpected = sorted(set(found) - set(expected))
    unbooked = []
    if booked:
        with fake.lock:
            unbooked = sorted((d.get("references") or {}).get("other", "") for d in fake.drafts.values())
    return Verdict(len(expected), duplicates, lost, unexpected, unbooked)


def duplicate_count(fake: FakeEconomic) -> int:
    return sum(n - 1 for n in documents(fake).values() if n > 1)


def duplicate_customers(fake: FakeEconomic) -> int:
    with fake.lock:
        emails = Counter(c.get("email", "") for c in fake.customers.values())
    return sum(n - 1 for n in emails.values() if n > 1)


def check_log(db_path: Path) -> dict[str, Any]:
    """The log after a final clean run: intact, no write in flight, no claim held by a live
    process (a killed run's claim stays behind, harmless: its pid is dead)."""
    with sqlite3.connect(db_path) as db:
        return {
            "integrity": db.execute("PRAGMA integrity_check").fetchone()[0],
            "intents": db.execute("SELECT count(*) FROM intents").fetchone()[0],
            "live_claims": sum(1 for (pid,) in db.execute("SELECT pid FROM claims") if process_alive(pid)),
            "due": db.execute("SELECT count(*) FROM order_status WHERE due = 1").fetchone()[0],
            "transferred": {r[0] for r in db.execute(
                "SELECT DISTINCT order_id FROM events WHERE outcome IN ('transferred', 'booked', 'credited')")},
            "recovered": db.execute("SELECT count(*) FROM events WHERE message LIKE 'Recovered after an interrupted run%'").fetchone()[0],
        }


def wait_for(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
