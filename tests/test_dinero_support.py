"""Fixtures and builders shared by the Dinero tests (this file holds no tests itself).

One loopback server per test module, with a fresh FakeDinero plugged into it for each test.
The fake and the connector share one scaled rate limit (100 requests per WINDOW seconds
instead of per minute), so the pacing is exercised without minute-long tests.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from iexsync import config, mapping
from iexsync.books.dinero import DineroBooks
from iexsync.document import Document, DocumentKind
from iexsync.model import Order
from iexsync.shops.woocommerce.order import parse_order
from tests.fakes.dinero import API_KEY, CLIENT_ID, CLIENT_SECRET, ORGANIZATION_ID, TOKEN_PATH, FakeDinero
from tests.fakes.server import FakeServer
from tests.test_economic_support import Switch, plug  # noqa: F401 - generic: any fake behind one server

REPO = Path(__file__).resolve().parent.parent
DEMO_ORDERS = REPO / "examples" / "orders"
WINDOW = 0.5  # seconds: the fake's and the connector's rate-limit window in tests


@pytest.fixture(scope="module")
def dinero_server() -> Iterator[FakeServer]:
    switch = Switch()
    with FakeServer(switch) as server:
        server.switch = switch  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def dinero(dinero_server: FakeServer) -> FakeDinero:
    return plug(dinero_server, FakeDinero(window=WINDOW))


def section(url: str, **overrides: Any) -> dict[str, Any]:
    """An `accounting:` section for the fake; nested dicts in overrides replace whole keys."""
    return {
        "system": "dinero", "url": url, "auth_url": url + TOKEN_PATH,
        "organization_id": ORGANIZATION_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_key": API_KEY,
        "rate_limit": {"requests": 100, "per_seconds": WINDOW},
        "accounts": {"sales_eu": 1020, "sales_abroad": 1030},
        **overrides,
    }


def connect(server: FakeServer, **overrides: Any) -> DineroBooks:
    return DineroBooks.from_config(section(server.url, **overrides), REPO)


def write_dinero_config(folder: Path, url: str, accounting: dict[str, Any] | None = None, **top: Any) -> Path:
    """The demo config, with the accounting section pointed at the fake Dinero; a processing
    order becomes an invoice draft (Dinero has no order documents)."""
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["accounting"] = section(url, **(accounting or {}))
    tree["shop"] = {"platform": "file", "path": str(folder / "orders")}
    tree["log"] = {"path": str(folder / "iexsync.db")}
    tree["transfer"]["per_state"]["processing"] = {"document": "invoice", "book": False}
    tree.update(top)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def settings_for(folder: Path, url: str, **accounting: Any) -> config.Settings:
    return config.load(write_dinero_config(folder, url, accounting))


def demo_order(order_number: int, **changes: Any) -> Order:
    raw = json.loads((DEMO_ORDERS / f"{order_number}.json").read_text())
    raw.update(copy.deepcopy(changes))
    return parse_order(raw)


def invoice(settings: config.Settings, order: Order, kind: DocumentKind = DocumentKind.INVOICE) -> Document:
    return mapping.build_document(settings, order, kind)
