"""A fresh (or lost) log looks references up in bulk: one listing per e-conomic collection
of the documents iexsync made, not up to five filtered searches per document.

Counts only: which requests reached the fake e-conomic.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from tests.fakes.economic import FakeEconomic
from tests.fakes.server import FakeServer
from tests.test_economic_support import DEMO_ORDERS, connect, economic_server, fake, write_economic_config  # noqa: F401
from tests.test_economic_sync import assert_demo_transferred_once, references

COLLECTIONS = {"/invoices/booked", "/invoices/drafts", "/orders/drafts", "/orders/sent", "/orders/archived"}


@pytest.fixture
def workspace(tmp_path: Path, economic_server: FakeServer) -> Path:
    shutil.copytree(DEMO_ORDERS, tmp_path / "orders")
    return write_economic_config(tmp_path, economic_server.url)


def document_queries(server: FakeServer, since: int = 0) -> list[tuple[str, str]]:
    """(path, filter) of every GET of a document collection since request number `since`."""
    found = []
    with server._lock:  # noqa: SLF001
        requests = list(server.requests[since:])
    for request in requests:
        if request.method == "GET" and request.path in COLLECTIONS:
            query = dict(part.split("=", 1) for part in request.query.split("&") if "=" in part)
            found.append((request.path, unquote_plus(query.get("filter", ""))))
    return found


def new_orders(folder: Path, count: int) -> list[str]:
    """`count` new completed orders (copies of demo order 1001), each a new invoice."""
    template = json.loads((folder / "1001.json").read_text())
    ids = []
    for number in range(count):
        order = copy.deepcopy(template)
        order["id"] = order["number"] = 8000 + number
        (folder / f"{8000 + number}.json").write_text(json.dumps(order))
        ids.append(str(8000 + number))
    return ids


def test_a_lost_log_lists_what_iexsync_made_once_and_adopts_it(fake: FakeEconomic, economic_server: FakeServer,
                                                                 workspace: Path, cli) -> None:
    """The demo transferred, the log deleted, five new orders arrive: the next run lists
    each collection once by the reference prefix (no search per reference), adopts
    every document e-conomic holds, and writes only the new orders' invoices."""
    cli("sync", "--config", workspace)
    assert_demo_transferred_once(fake)
    for leftover in workspace.parent.glob("iexsync.db*"):
        leftover.unlink()
    added = new_orders(workspace.parent / "orders", 5)
    mark = len(economic_server.requests)
    posts = fake.count("POST /invoices/drafts")

    result = cli("sync", "--config", workspace, "--verbose")

    assert "recorded, not written again" in result.output
    queries = document_queries(economic_server, mark)
    assert sorted(path for path, _ in queries) == sorted(COLLECTIONS)  # one listing each, one page
    assert all(query.startswith("references.other$like:iexsync:*") for _, query in queries), queries
    assert fake.count("POST /invoices/drafts") - posts == len(added)
    found = references(fake)
    assert all(found[f"iexsync:woocommerce:{order}:invoice"] == ["booked"] for order in added)
    assert sum(len(where) for where in found.values()) == len(found)  # nothing twice


def test_a_fresh_log_credits_a_refund_without_looking_it_up_again(fake: FakeEconomic, economic_server: FakeServer,
                                                                    workspace: Path, cli) -> None:
    """On a fresh log a credit note is written without the connector's own lookup when
    the listing shows none was written: the demo's refunded order costs no search."""
    result = cli("sync", "--config", workspace)
    assert result.exit_code == 1, result.output  # order 1009 has a line without SKU
    assert_demo_transferred_once(fake)
    assert [q for _, q in document_queries(economic_server) if "$eq:" in q] == []


def test_a_listing_by_date_covers_only_documents_from_then_on(fake: FakeEconomic, economic_server: FakeServer,
                                                               workspace: Path, cli) -> None:
    from datetime import date

    cli("sync", "--config", workspace)
    books = connect(economic_server)
    everything = books.known_references("iexsync:")
    assert set(everything) == set(references(fake))
    dates = sorted({d["date"] for store in (fake.drafts, fake.booked, fake.orders) for d in store.values()})
    later = books.known_references("iexsync:", date.fromisoformat(dates[-1]))
    assert later and set(later) < set(everything)
    assert all(ref.booked for ref in everything.values() if ref.kind.value == "credit_note")
    assert books.known_references("other-prefix:") == {}
