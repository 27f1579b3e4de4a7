"""Fixtures and builders shared by the e-conomic tests (this file holds no tests itself).

One loopback server per test module (stopping a server costs half a second), with a
fresh FakeEconomic plugged into it for each test. Documents come from the demo's
WooCommerce orders through the real reader and the real mapping.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from iexsync import config, mapping
from iexsync.books.economic import EconomicBooks
from iexsync.document import Document, DocumentKind
from iexsync.model import Order
from iexsync.shops.woocommerce.order import parse_order
from tests.fakes.economic import AGREEMENT_GRANT_TOKEN, APP_SECRET_TOKEN, FakeEconomic
from tests.fakes.server import FakeServer

REPO = Path(__file__).resolve().parent.parent
DEMO_ORDERS = REPO / "examples" / "orders"


class Switch:
    """A WSGI app that forwards to whichever fake the current test plugged in."""

    def __init__(self) -> None:
        self.app: Callable | None = None

    def __call__(self, environ: dict, start_response: Callable):
        assert self.app is not None, "no fake plugged in"
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def economic_server() -> Iterator[FakeServer]:
    switch = Switch()
    with FakeServer(switch) as server:
        server.switch = switch  # type: ignore[attr-defined]
        yield server


def plug(server: FakeServer, fake: FakeEconomic) -> FakeEconomic:
    server.switch.app = fake  # type: ignore[attr-defined]
    server.faults = None
    server.latency = 0.0
    with server._lock:
        server.requests.clear()
    return fake


@pytest.fixture
def fake(economic_server: FakeServer) -> FakeEconomic:
    return plug(economic_server, FakeEconomic())


def section(url: str, **overrides: Any) -> dict[str, Any]:
    """An `accounting:` section for the fake; nested dicts in overrides replace whole keys."""
    return {
        "system": "economic", "url": url,
        "app_secret_token": APP_SECRET_TOKEN, "agreement_grant_token": AGREEMENT_GRANT_TOKEN,
        **overrides,
    }


def connect(server: FakeServer, **overrides: Any) -> EconomicBooks:
    return EconomicBooks.from_config(section(server.url, **overrides), REPO)


def write_economic_config(folder: Path, url: str, accounting: dict[str, Any] | None = None, **top: Any) -> Path:
    """The demo config, with the accounting section pointed at the fake e-conomic."""
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["accounting"] = section(url, **(accounting or {}))
    tree["shop"] = {"platform": "file", "path": str(folder / "orders")}
    tree["log"] = {"path": str(folder / "iexsync.db")}
    tree.update(top)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)  # it holds the (fake) tokens
    return path


def settings_for(folder: Path, url: str, **accounting: Any) -> config.Settings:
    return config.load(write_economic_config(folder, url, accounting))


def demo_order(order_number: int, **changes: Any) -> Order:
    raw = json.loads((DEMO_ORDERS / f"{order_number}.json").read_text())
    raw.update(copy.deepcopy(changes))
    return parse_order(raw)


def invoice(settings: config.Settings, order: Order, kind: DocumentKind = DocumentKind.INVOICE) -> Document:
    return mapping.build_document(settings, order, kind)
