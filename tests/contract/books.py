"""`BooksContract`: every behaviour the engine relies on from an accounting connector,
written once. Each connector's test module subclasses it with one fixture:

    from tests.contract.books import BooksBackend, BooksContract

    class TestDineroBooks(BooksContract):
        @pytest.fixture
        def backend(self, dinero_server, tmp_path) -> BooksBackend:
            fake = dinero_server.use(FakeDinero())
            return BooksBackend(
                section={"system": "dinero", "url": dinero_server.url, "api_key": fake.api_key, ...},
                base_dir=tmp_path,
                written=fake.references,                       # every reference written, duplicates kept
                lose_answer=lambda method, path: ...,          # the next such write is done, its answer lost
                fail_lasting=lambda: ...,                      # every request answers 503 from now on
                customers=lambda: len(fake.contacts),
                requests=lambda: len(dinero_server.requests),
                secrets=(fake.api_key,),
            )

Only `section`, `base_dir` and `written` are required; a test that needs a capability the
backend does not declare (a local ledger has no answer to lose, no URL to refuse) is
skipped with that reason. `section` goes through `from_config` exactly as a config
file's `accounting:` section does (and builds the documents' settings), so the
connector's registry line is tested too. See tests/contract/README.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from iexsync import config, errors, mapping, registry
from iexsync.document import Document, DocumentKind
from tests.contract.memory import demo_order

REPO = Path(__file__).resolve().parents[2]


@dataclass
class BooksBackend:
    section: dict[str, Any]  # the `accounting:` section, `system` included
    base_dir: Path
    written: Callable[[], list[str]]  # every document reference written, duplicates kept
    connect: Callable[[], Any] | None = None  # a fresh connector; default: the registry's, from `section`
    lose_answer: Callable[[str], None] | None = None  # "create" | "book": the next one is done, its answer lost
    fail_lasting: Callable[[], None] | None = None  # from now on every request fails with a 5xx
    customers: Callable[[], int] | None = None  # how many customers the system holds
    requests: Callable[[], int] | None = None  # how many requests reached the system (remote ones)
    secrets: tuple[str, ...] = ()
    settings_section: dict[str, Any] | None = None  # for a double no config knows: whose settings to use

    def open(self) -> Any:
        if self.connect is not None:
            return self.connect()
        return registry.load("books", self.section["system"]).from_config(self.section, self.base_dir)

    def settings(self) -> config.Settings:
        tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
        tree["accounting"] = self.settings_section or self.section
        tree["shop"] = {"platform": "file", "path": str(REPO / "examples" / "orders")}
        tree["log"] = {"path": str(self.base_dir / "contract.db")}
        tree["transfer"]["start_date"] = None
        path = self.base_dir / "contract-config.yaml"
        path.write_text(yaml.safe_dump(tree, sort_keys=False))
        path.chmod(0o600)
        return config.load(path)


def invoice(settings: config.Settings, order_id: int, template: int = 1001, **changes: Any) -> Document:
    order = demo_order(template, id=order_id, number=str(order_id), **changes)
    return mapping.build_document(settings, order, DocumentKind.INVOICE)


class BooksContract:
    """Subclass with a `backend` fixture returning a BooksBackend."""

    @pytest.fixture
    def backend(self) -> BooksBackend:
        raise NotImplementedError("a BooksContract subclass provides the `backend` fixture")

    @pytest.fixture
    def settings(self, backend: BooksBackend) -> config.Settings:
        return backend.settings()

    @pytest.fixture
    def books(self, backend: BooksBackend) -> Any:
        connector = backend.open()
        yield connector
        connector.close()

    # --- finding what was written ------------------------------------------------------------
    def test_create_then_find(self, backend, books, settings) -> None:
        document = invoice(settings, 7101)
        ref = books.create(document)
        assert (ref.reference, ref.kind, ref.booked) == (document.reference, DocumentKind.INVOICE, False)
        found = backend.open().find(document.reference)  # another run's connector
        assert found is not None and (found.reference, found.number, found.booked) == (ref.reference, ref.number, False)
        assert found.totals is None or found.totals.gross == document.totals.gross
        assert books.find("iexsync:woocommerce:999999:invoice") is None
        assert backend.written() == [document.reference]

    def test_booked_shows_booked(self, backend, books, settings) -> None:
        document = invoice(settings, 7102)
        booked = books.book(books.create(document), document)
        assert booked.booked and booked.number
        found = backend.open().find(document.reference, DocumentKind.INVOICE)
        assert found is not None and found.booked and found.number == booked.number

    def test_references_with_the_filter_languages_special_characters(self, backend, books, settings) -> None:
        reference = "shop(1):order,2*[$x]$eq'\"~ø"
        document = dataclasses.replace(invoice(settings, 7103), reference=reference)
        ref = books.create(document)
        found = backend.open().find(reference)
        assert found is not None and (found.reference, found.number) == (reference, ref.number)
        assert books.find("shop(1):order,2") is None
        assert books.find("shop(1):order,2*[$x]$eq'\"~") is None

    def test_a_lost_answer_is_found_by_its_reference(self, backend, books, settings) -> None:
        if backend.lose_answer is None:
            pytest.skip("a local connector has no answer to lose")
        document = invoice(settings, 7104)
        backend.lose_answer("create")
        with pytest.raises(errors.OutcomeUnknown):
            books.create(document)
        found = backend.open().find(document.reference)
        assert found is not None and not found.booked
        backend.lose_answer("book")
        with pytest.raises(errors.OutcomeUnknown):
            books.book(found, document)
        again = backend.open().find(document.reference)
        assert again is not None and again.booked
        assert backend.written() == [document.reference]

    # --- refusals ------------------------------------------------------------------------------
    def test_crediting_before_booking_is_refused(self, backend, books, settings) -> None:
        order = demo_order(1006, id=7105, number="7105")
        document = mapping.build_document(settings, order, DocumentKind.INVOICE)
        draft = books.create(document)
        note = mapping.build_credit_note(settings, order, order.refunds[0], document.reference)
        with pytest.raises(errors.RemoteRejected):
            books.credit(draft, note)
        assert backend.written() == [document.reference]
        books.book(draft, document)
        credited = books.credit(books.find(document.reference), note)
        assert credited.kind is DocumentKind.CREDIT_NOTE and credited.booked
        assert sorted(backend.written()) == sorted([document.reference, note.reference])

    # --- many at once --------------------------------------------------------------------------
    def test_a_shared_customer_is_resolved_once_across_threads(self, backend, books, settings) -> None:
        if backend.customers is None:
            pytest.skip("this connector keeps no customer records")
        documents = [invoice(settings, 7200 + i) for i in range(8)]
        workers = getattr(books, "max_workers", None) or 8
        with ThreadPoolExecutor(max_workers=workers) as pool:
            refs = list(pool.map(books.create, documents))
        assert len({ref.number for ref in refs}) == 8
        assert backend.customers() == 1
        assert sorted(backend.written()) == sorted(d.reference for d in documents)

    # --- a remote system -------------------------------------------------------------------------
    def test_plain_http_is_refused_before_anything_is_sent(self, backend) -> None:
        if "url" not in backend.section or backend.requests is None:
            pytest.skip("this connector has no URL")
        before = backend.requests()
        section = {**backend.section, "url": "http://books.example.com"}
        cls = registry.load("books", section["system"])
        with pytest.raises(errors.ConfigError, match="plain http"):
            cls.from_config(section, backend.base_dir).check()
        assert backend.requests() == before

    def test_a_lasting_5xx_fails_reads_and_writes_without_a_write_twice(self, backend, books, settings) -> None:
        if backend.fail_lasting is None:
            pytest.skip("a local connector has no server to fail")
        document = invoice(settings, 7106)
        backend.fail_lasting()
        with pytest.raises(errors.RemoteUnavailable) as read:
            books.find(document.reference)
        assert read.value.transient  # retried by a later run, not the order's fault
        with pytest.raises(errors.RemoteUnavailable):
            books.create(document)
        assert backend.written() == []

    def test_no_secret_in_any_message(self, backend, books, settings) -> None:
        if not backend.secrets:
            pytest.skip("this connector has no secrets")
        messages = []
        section = {**backend.section, "url": "http://books.example.com"} if "url" in backend.section else None
        if section is not None:
            with pytest.raises(errors.ConfigError) as refused:
                registry.load("books", section["system"]).from_config(section, backend.base_dir).check()
            messages.append(str(refused.value))
        if backend.fail_lasting is not None:
            backend.fail_lasting()
            for attempt in (lambda: books.find("x"), lambda: books.create(invoice(settings, 7107))):
                with pytest.raises(Exception) as failed:  # noqa: PT011 - whatever it is, it names no secret
                    attempt()
                messages += [str(failed.value), repr(failed.value)]
        assert messages
        leaked = [m for m in messages for s in backend.secrets if s in m]
        assert leaked == []
