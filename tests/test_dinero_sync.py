"""End to end: `iexsync sync` with the demo's orders (file shop) into the fake Dinero.

The whole product path: config loader, engine, SQLite log, mapping, this connector, over
loopback HTTP. And a run killed (SIGKILL, by the fake, the moment it has acted) right after
a write, then restarted: nothing is booked twice, no payment is registered twice.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.fakes.dinero import FakeDinero
from tests.fakes.server import FakeServer
from tests.test_dinero_support import DEMO_ORDERS, WINDOW, dinero, dinero_server, write_dinero_config  # noqa: F401

COMPLETED = {"1001": "1646.25", "1002": "985.75", "1003": "954.00", "1004": "2525.00", "1006": "606.25"}
PAID_BY_CARD = ("1001", "1003", "1006")  # Stripe: a deposit account is configured for it below
ACCOUNTING = {"payments": {"methods": {"stripe": {"condition": "Paid", "deposit_account": 55010}}}}


@pytest.fixture
def workspace(tmp_path: Path, dinero_server: FakeServer) -> Path:
    shutil.copytree(DEMO_ORDERS, tmp_path / "orders")
    return write_dinero_config(tmp_path, dinero_server.url, ACCOUNTING)


def documents(fake: FakeDinero) -> dict[str, list[str]]:
    """Reference → the status of each document carrying it (a duplicate shows as two entries)."""
    found: dict[str, list[str]] = {}
    for store in (fake.invoices, fake.creditnotes):
        for document in store.values():
            found.setdefault(document["ExternalReference"], []).append(document["Status"])
    return found


def assert_demo_transferred_once(fake: FakeDinero) -> None:
    assert documents(fake) == {
        **{f"iexsync:woocommerce:{n}:invoice": ["Booked"] for n in COMPLETED},
        "iexsync:woocommerce:1005:invoice": ["Draft"],  # processing: an invoice draft, per the state's rule
        "iexsync:woocommerce:1006:credit_note:2001": ["Booked"],
    }
    views = {guid: fake._document_view(doc) for guid, doc in fake.invoices.items()}
    gross = {doc["ExternalReference"].split(":")[2]: views[guid]["TotalInclVat"]
             for guid, doc in fake.invoices.items() if doc["Status"] == "Booked"}
    assert gross == {n: Decimal(total) for n, total in COMPLETED.items()}
    paid = sorted(fake.invoices[guid]["ExternalReference"].split(":")[2] for guid, payments in fake.payments.items()
                  for _ in payments)
    assert paid == sorted(PAID_BY_CARD)
    for guid, payments in fake.payments.items():
        assert [p["Amount"] for p in payments] == [views[guid]["TotalInclVat"]]


def test_sync_transfers_the_demo_into_dinero_and_a_second_run_writes_nothing(dinero, workspace, cli) -> None:
    first = cli("sync", "--config", workspace, "--verbose")
    assert first.exit_code == 1, first.output  # order 1009 has a line without SKU
    assert "1009" in first.output and "no SKU" in first.output
    assert_demo_transferred_once(dinero)
    [note] = dinero.creditnotes.values()
    assert dinero._document_view(note)["TotalInclVat"] == Decimal("125.00") and note["Number"] == 1
    draft = next(d for d in dinero.invoices.values() if d["Status"] == "Draft")
    assert dinero._document_view(draft)["TotalInclVat"] == Decimal("836.25")
    assert sorted(d["Number"] for d in dinero.invoices.values() if d["Status"] == "Booked") == [1, 2, 3, 4, 5]
    assert dinero.rejected_429 == 0
    writes = sum(n for route, n in dinero.calls.items() if not route.startswith("GET") and route != "POST token")

    second = cli("sync", "--config", workspace)
    assert sum(n for route, n in dinero.calls.items() if not route.startswith("GET") and route != "POST token") == writes
    assert second.exit_code == 0  # 1009's error is not repeated
    assert_demo_transferred_once(dinero)


def test_a_changed_processing_order_updates_its_draft_in_place(dinero, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    path = workspace.parent / "orders" / "1005.json"
    order = json.loads(path.read_text())
    order["shipping_lines"][0].update(total="0.00", total_tax="0.00", taxes=[])
    order["shipping_total"], order["shipping_tax"] = "0.00", "0.00"
    order["total"], order["total_tax"] = "775.00", "155.00"
    order["date_modified"] = order["date_modified_gmt"] = "2026-03-01T10:00:00"
    path.write_text(json.dumps(order))
    cli("sync", "--config", workspace)
    assert dinero.count("PUT /v1.2/invoices/{guid}") == 1
    [draft] = [d for d in dinero.invoices.values() if d["Status"] == "Draft"]
    assert dinero._document_view(draft)["TotalInclVat"] == Decimal("775.00")
    assert documents(dinero)["iexsync:woocommerce:1005:invoice"] == ["Draft"]


def test_the_demo_config_unchanged_says_what_to_do_about_order_documents(dinero, dinero_server, workspace, cli) -> None:
    tree = yaml.safe_load(workspace.read_text())
    tree["transfer"]["per_state"]["processing"] = {"document": "order"}
    workspace.write_text(yaml.safe_dump(tree))
    result = cli("sync", "--config", workspace, "--verbose")
    assert "Dinero has no order documents" in result.output
    assert "iexsync:woocommerce:1005:invoice" not in documents(dinero)


def _edit(workspace: Path, number: str, **changes) -> None:
    path = workspace.parent / "orders" / f"{number}.json"
    order = json.loads(path.read_text())
    order.update(changes, date_modified="2026-03-01T10:00:00", date_modified_gmt="2026-03-01T10:00:00")
    path.write_text(json.dumps(order))


def test_a_draft_booked_by_hand_is_recorded_booked_not_updated(dinero, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    [guid] = [g for g, d in dinero.invoices.items() if d["Status"] == "Draft"]
    dinero.invoices[guid].update(Status="Booked", Number=99)  # the bookkeeper booked 1005's draft
    order = json.loads((workspace.parent / "orders" / "1005.json").read_text())
    order["shipping_lines"][0].update(total="0.00", total_tax="0.00", taxes=[])
    _edit(workspace, "1005", shipping_lines=order["shipping_lines"], shipping_total="0.00", shipping_tax="0.00",
          total="775.00", total_tax="155.00")
    result = cli("sync", "--config", workspace, "--verbose")
    assert "99" in result.output, result.output
    assert dinero.count("PUT /v1.2/invoices/{guid}") == 0


def test_a_cancelled_orders_draft_is_deleted_in_dinero(dinero, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    _edit(workspace, "1005", status="cancelled")
    result = cli("sync", "--config", workspace, "--verbose")
    assert "deleted" in result.output, result.output
    [draft] = [d for d in dinero.invoices.values() if d["ExternalReference"] == "iexsync:woocommerce:1005:invoice"]
    assert draft["DeletedAt"] and dinero.count("DELETE /invoices/{guid}") == 1


class KillAfter:
    """Wraps the fake: once it has acted on the nth matching request, SIGKILL the client."""

    def __init__(self, app: FakeDinero, method: str, path: str, nth: int = 1):
        self.app, self.method, self.path, self.left = app, method, path, nth
        self.pid = 0

    def __call__(self, environ: dict, start_response):
        answer = self.app(environ, start_response)
        if environ["REQUEST_METHOD"] == self.method and environ["PATH_INFO"].endswith(self.path):
            self.left -= 1
            if self.left == 0 and self.pid:
                os.kill(self.pid, signal.SIGKILL)  # written in Dinero, never recorded in the log
        return answer


def _one_worker() -> dict:
    transfer = yaml.safe_load((REPO / "config.example.yaml").read_text())["transfer"]
    return {**transfer, "workers": 1, "per_state": {**transfer["per_state"], "processing": {"document": "invoice", "book": False}}}


@pytest.mark.parametrize(
    ("method", "path", "nth"),
    [("POST", "/invoices", 2), ("POST", "/book", 1), ("POST", "/payments", 1), ("POST", "/sales/creditnotes", 1),
     ("POST", "/contacts", 3)],
    ids=["invoice-created", "invoice-booked", "payment-registered", "credit-note-created", "contact-created"],
)
def test_a_run_killed_right_after_a_write_books_nothing_twice(dinero, dinero_server, workspace, cli, method, path, nth) -> None:
    write_dinero_config(workspace.parent, dinero_server.url, ACCOUNTING, transfer=_one_worker())
    killer = KillAfter(dinero, method, path, nth)
    dinero_server.switch.app = killer
    run = subprocess.Popen([sys.executable, "-m", "iexsync", "sync", "--config", str(workspace)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    killer.pid = run.pid
    assert run.wait(timeout=60) == -signal.SIGKILL
    assert killer.left == 0

    restarted = cli("sync", "--config", workspace, "--verbose")
    assert restarted.exit_code == 1, restarted.output  # only order 1009, as before
    assert_demo_transferred_once(dinero)
    assert len(dinero.contacts) == len({c["Email"] for c in dinero.contacts.values()})


def test_a_refused_grant_is_exit_77_and_no_credential_or_token_is_printed_or_logged(dinero, dinero_server, workspace) -> None:
    from tests.conftest import run_process
    from tests.fakes.dinero import API_KEY, CLIENT_SECRET

    ok = run_process("sync", "--config", workspace, "--verbose")
    assert ok.returncode == 1 and dinero.tokens_issued == 1  # 1009's error
    [token] = dinero.tokens
    dinero.api_key = "a-new-key-the-config-does-not-have"
    raw = json.loads((workspace.parent / "orders" / "1001.json").read_text())
    raw.update(id=7001, number="7001", date_modified="2026-03-05T10:00:00", date_modified_gmt="2026-03-05T10:00:00")
    (workspace.parent / "orders" / "7001.json").write_text(json.dumps(raw))  # a new order: Dinero is needed
    refused = run_process("sync", "--config", workspace)
    assert refused.returncode == 77, refused.stderr
    assert "Dinero rejected the credentials (invalid_grant" in refused.stderr + refused.stdout
    log = (workspace.parent / "iexsync.db").read_bytes()
    for output in (ok.stdout, ok.stderr, refused.stdout, refused.stderr, log):
        text = output if isinstance(output, str) else output.decode("latin-1")
        for secret in (API_KEY, CLIENT_SECRET, token):
            assert secret not in text
