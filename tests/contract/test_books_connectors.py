"""Every books connector, and the memory double, through BooksContract."""

from __future__ import annotations

import pytest

from tests.conftest import ledger_entries
from tests.contract.books import BooksBackend, BooksContract
from tests.contract.memory import MemoryBooks
from tests.fakes.economic import FakeEconomic, fault_once
from tests.fakes.server import Fault
from tests.test_economic_support import economic_server, plug, section  # noqa: F401 - fixture


class TestBeancountBooks(BooksContract):
    @pytest.fixture
    def backend(self, tmp_path) -> BooksBackend:
        return BooksBackend(section={"system": "beancount", "path": "ledger.beancount"}, base_dir=tmp_path,
                            written=lambda: ledger_entries(tmp_path / "ledger.beancount"))


class TestEconomicBooks(BooksContract):
    @pytest.fixture
    def backend(self, economic_server, tmp_path) -> BooksBackend:  # noqa: F811 - the fixture
        fake = plug(economic_server, FakeEconomic())
        lost = {"create": ("POST", "/invoices/drafts"), "book": ("POST", "/invoices/booked")}

        def written() -> list[str]:
            stores = (fake.drafts, fake.booked, fake.orders)
            return [doc["references"]["other"] for store in stores for doc in store.values() if doc.get("references")]

        def fail_lasting() -> None:
            economic_server.faults = lambda request: Fault("status", 503, b'{"message": "down"}', {"Retry-After": "0"})

        return BooksBackend(
            section=section(economic_server.url), base_dir=tmp_path, written=written,
            lose_answer=lambda what: setattr(economic_server, "faults", fault_once(*lost[what], "reset_after")),
            fail_lasting=fail_lasting, customers=lambda: len(fake.customers),
            requests=lambda: len(economic_server.requests),
            secrets=(fake.app_secret_token, fake.agreement_grant_token),
        )


class TestMemoryBooks(BooksContract):
    @pytest.fixture
    def backend(self, tmp_path) -> BooksBackend:
        books = MemoryBooks()
        return BooksBackend(section={"system": "memory"}, base_dir=tmp_path, written=books.written,
                            connect=lambda: books, settings_section={"system": "beancount", "path": "ledger.beancount"})
