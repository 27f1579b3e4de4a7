"""The Dinero connector through the shared BooksContract (tests/contract/books.py), against
the fake Dinero: a lost answer to a create or a booking, a lasting 5xx, secrets."""

from __future__ import annotations

import pytest
from tests.contract.books import BooksBackend, BooksContract
from tests.fakes.dinero import FakeDinero
from tests.fakes.server import Fault
from tests.test_dinero_support import WINDOW, dinero_server, plug, section  # noqa: F401 - fixture


class TestDineroBooks(BooksContract):
    @pytest.fixture
    def backend(self, dinero_server, tmp_path) -> BooksBackend:  # noqa: F811
        fake = plug(dinero_server, FakeDinero(window=WINDOW))
        org = fake.organization_id

        def lose(what: str) -> None:
            """The next create (POST …/invoices) or booking (POST …/invoices/<guid>/book) is done, its answer lost."""
            def faults(request):
                tail = "/book" if what == "book" else f"/v1/{org}/invoices"
                if request.method == "POST" and request.path.endswith(tail):
                    dinero_server.faults = None
                    return Fault("reset_after")
                return None

            dinero_server.faults = faults

        def fail_lasting() -> None:
            dinero_server.faults = lambda request: Fault("status", 503, b'{"message": "down"}', {"Retry-After": "0"})

        return BooksBackend(
            section=section(dinero_server.url), base_dir=tmp_path,
            written=lambda: [d["ExternalReference"] for store in (fake.invoices, fake.creditnotes) for d in store.values()],
            lose_answer=lose, fail_lasting=fail_lasting, customers=lambda: len(fake.contacts),
            requests=lambda: len(dinero_server.requests), secrets=(fake.client_secret, fake.api_key),
        )
