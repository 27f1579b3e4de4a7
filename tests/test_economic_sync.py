"""End to end: `iexsync sync` with the demo's orders (file shop) into the fake e-conomic.

The whole product path: config loader, engine, SQLite log, mapping, this connector, over
loopback HTTP. And a run killed (SIGKILL, by the fake, the moment it has acted) right
after a write, then restarted: nothing is booked twice.
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

from tests.fakes.economic import FakeEconomic
from tests.fakes.server import FakeServer
from tests.conftest import REPO
from tests.test_economic_support import DEMO_ORDERS, economic_server, fake, write_economic_config  # noqa: F401

COMPLETED = {"1001": "1646.25", "1002": "985.75", "1003": "954.00", "1004": "2525.00", "1006": "606.25"}


@pytest.fixture
def workspace(tmp_path: Path, economic_server: FakeServer) -> Path:
    shutil.copytree(DEMO_ORDERS, tmp_path / "orders")
    return write_economic_config(tmp_path, economic_server.url)


def references(fake: FakeEconomic) -> dict[str, list[str]]:
    """Reference → where each document carrying it is (a duplicate shows as two entries)."""
    found: dict[str, list[str]] = {}
    for store, where in ((fake.drafts, "draft"), (fake.booked, "booked"), (fake.orders, "order")):
        for document in store.values():
            found.setdefault(document["references"]["other"], []).append(where)
    return found


def assert_demo_transferred_once(fake: FakeEconomic) -> None:
    assert references(fake) == {
        **{f"iexsync:woocommerce:{n}:invoice": ["booked"] for n in COMPLETED},
        "iexsync:woocommerce:1005:order": ["order"],
        "iexsync:woocommerce:1006:credit_note:2001": ["booked"],
    }
    gross = {d["references"]["other"].split(":")[2]: d["grossAmount"] for d in fake.booked.values() if d["grossAmount"] > 0}
    assert gross == {n: Decimal(total) for n, total in COMPLETED.items()}


def test_sync_transfers_the_demo_into_e_conomic_and_a_second_run_writes_nothing(fake, workspace, cli) -> None:
    first = cli("sync", "--config", workspace, "--verbose")
    assert first.exit_code == 1, first.output  # order 1009 has a line without SKU
    assert "1009" in first.output and "no SKU" in first.output
    assert_demo_transferred_once(fake)
    credit = next(d for d in fake.booked.values() if d["grossAmount"] < 0)
    assert credit["grossAmount"] == Decimal("-125.00")
    assert fake.orders[1]["grossAmount"] == Decimal("836.25")
    writes = sum(count for route, count in fake.calls.items() if not route.startswith("GET"))

    second = cli("sync", "--config", workspace)
    assert sum(count for route, count in fake.calls.items() if not route.startswith("GET")) == writes
    assert second.exit_code == 0, second.output  # 1009's error is not repeated
    assert_demo_transferred_once(fake)


def test_a_changed_processing_order_updates_its_order_draft(fake, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    path = workspace.parent / "orders" / "1005.json"
    order = json.loads(path.read_text())
    order["shipping_lines"][0].update(total="0.00", total_tax="0.00", taxes=[])
    order["shipping_total"], order["shipping_tax"] = "0.00", "0.00"
    order["total"], order["total_tax"] = "775.00", "155.00"
    order["date_modified"] = order["date_modified_gmt"] = "2026-03-01T10:00:00"
    path.write_text(json.dumps(order))
    cli("sync", "--config", workspace)
    assert fake.count("PUT /orders/drafts/{orderNumber}") == 1
    assert list(fake.orders) == [1] and fake.orders[1]["grossAmount"] == Decimal("775.00")


class KillAfter:
    """Wraps the fake: once it has acted on the nth matching request, SIGKILL the client."""

    def __init__(self, app: FakeEconomic, method: str, path: str, nth: int = 1):
        self.app, self.method, self.path, self.left = app, method, path, nth
        self.pid = 0

    def __call__(self, environ: dict, start_response):
        answer = self.app(environ, start_response)
        if environ["REQUEST_METHOD"] == self.method and environ["PATH_INFO"] == self.path:
            self.left -= 1
            if self.left == 0 and self.pid:
                os.kill(self.pid, signal.SIGKILL)  # written in e-conomic, never recorded in the log
        return answer


# The 6th draft is 1006's credit note: killed after the draft landed, before it was booked.
CREDIT_DRAFT_LANDED = ("POST", "/invoices/drafts", 6)


@pytest.mark.parametrize(
    ("method", "path", "nth"),
    [("POST", "/invoices/drafts", 2), ("POST", "/invoices/booked", 1), CREDIT_DRAFT_LANDED],
)
def test_a_run_killed_right_after_a_write_books_nothing_twice(fake, economic_server, workspace, cli, method, path, nth) -> None:
    # One order at a time, so "the nth write" names one document (the pool's own case is below).
    write_economic_config(workspace.parent, economic_server.url, transfer=_one_worker())
    killer = KillAfter(fake, method, path, nth)
    economic_server.switch.app = killer
    run = subprocess.Popen(
        [sys.executable, "-m", "iexsync", "sync", "--config", str(workspace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    killer.pid = run.pid  # the process needs far longer to import than this takes
    assert run.wait(timeout=60) == -signal.SIGKILL
    assert killer.left == 0

    restarted = cli("sync", "--config", workspace, "--verbose")
    assert restarted.exit_code == 1, restarted.output  # only order 1009, as before
    assert "recovered after an interrupted run" in restarted.output.lower() or "1 credited" in restarted.output
    assert_demo_transferred_once(fake)


def _one_worker() -> dict:
    import yaml

    transfer = yaml.safe_load((REPO / "config.example.yaml").read_text())["transfer"]
    return {**transfer, "workers": 1}


def test_a_run_killed_with_orders_in_flight_books_nothing_twice(fake, economic_server, workspace, cli) -> None:
    """Four orders at a time: the kill lands while others are mid-write."""
    write_economic_config(workspace.parent, economic_server.url, transfer={**_one_worker(), "workers": 4})
    killer = KillAfter(fake, "POST", "/invoices/drafts", 3)
    economic_server.switch.app = killer
    run = subprocess.Popen(
        [sys.executable, "-m", "iexsync", "sync", "--config", str(workspace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    killer.pid = run.pid
    assert run.wait(timeout=60) == -signal.SIGKILL
    cli("sync", "--config", workspace)
    assert_demo_transferred_once(fake)


def test_an_invoice_whose_totals_differ_stays_unbooked_on_later_runs(fake, workspace, cli) -> None:
    fake.add_product("NL-LAMP-01", group=2)  # VAT-free in e-conomic; the shop charged 25 %
    first = cli("sync", "--config", workspace, "--verbose")
    assert "totals differ" in first.output
    cli("sync", "--config", workspace)
    assert references(fake)["iexsync:woocommerce:1001:invoice"] == ["draft"]


@pytest.mark.parametrize(("status", "again"), [(503, ()), (400, ("--order", "1006"))], ids=["answer-unknown", "rejected"])
def test_a_credit_note_whose_booking_failed_is_booked_later_not_written_again(fake, economic_server, workspace, cli, status, again) -> None:
    """The credit note's draft landed, its booking did not. A 503 leaves the write's intent
    open (the next run looks it up); a 400 is the order's error, after which only the log's
    record of that error tells the retry (here on demand) to look before it writes."""
    from tests.fakes.economic import fault_once

    write_economic_config(workspace.parent, economic_server.url, transfer=_one_worker())
    bookings = [0]

    def sixth_booking(request):  # 1001, 1002, 1003, 1004, 1006, then 1006's credit note
        if (request.method, request.path) == ("POST", "/invoices/booked"):
            bookings[0] += 1
            if bookings[0] == 6:
                return fault_once("POST", "/invoices/booked", kind="status", status=status)(request)
        return None

    economic_server.faults = sixth_booking
    first = cli("sync", "--config", workspace, "--verbose")
    assert "1006" in first.output and str(status) in first.output, first.output
    assert references(fake)["iexsync:woocommerce:1006:credit_note:2001"] == ["draft"]

    economic_server.faults = None
    second = cli("sync", "--config", workspace, "--verbose", *again)
    assert "credited" in second.output, second.output
    assert_demo_transferred_once(fake)
    assert fake.count("POST /invoices/drafts") == 6  # five invoices (1005 is an order) and one credit note draft


def _another_order_like(workspace: Path, order_id: int, like: str = "1001") -> None:
    raw = json.loads((workspace.parent / "orders" / f"{like}.json").read_text())
    raw.update(id=order_id, number=str(order_id), refunds=[])
    (workspace.parent / "orders" / f"{order_id}.json").write_text(json.dumps(raw))


def test_a_returning_buyer_of_known_products_costs_only_the_writes_in_a_later_run(fake, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    before = dict(fake.calls)
    _another_order_like(workspace, 7001)

    cli("sync", "--config", workspace)

    made = {route: n - before.get(route, 0) for route, n in fake.calls.items() if n != before.get(route, 0)}
    assert made == {"POST /invoices/drafts": 1, "POST /invoices/booked": 1}


def test_a_remembered_customer_or_product_deleted_in_e_conomic_is_found_again_not_trusted(fake, workspace, cli) -> None:
    cli("sync", "--config", workspace)
    [jens] = [n for n, c in fake.customers.items() if c.get("email") == "jens.madsen@example.dk"]
    del fake.customers[jens]  # deleted by hand, say
    sku = json.loads((workspace.parent / "orders" / "1001.json").read_text())["line_items"][0]["sku"]
    del fake.products[sku]
    _another_order_like(workspace, 7002)

    result = cli("sync", "--config", workspace, "--verbose")

    assert "7002" in result.output, result.output
    [new] = [d for d in fake.booked.values() if d["references"]["other"] == "iexsync:woocommerce:7002:invoice"]
    assert new["customer"]["customerNumber"] != jens and new["customer"]["customerNumber"] in fake.customers
    assert sku in fake.products
    # the rejected draft wrote nothing; the one retry made the one document
    assert references(fake)["iexsync:woocommerce:7002:invoice"] == ["booked"]
