"""Telling a human (issue 12): mail through a real SMTP server on loopback the first time an
order fails or a warning asks for action, a daily digest, and a ping URL on a real HTTP
endpoint (healthchecks.io style: /start, success, /fail with the run's summary)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.test_human_attention import change_money_of_1003
from tests.conftest import run_process, write_config
from tests.fakes.server import FakeServer

aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd (a test dependency) is not installed")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

PASSWORD = "smtp-pass-" + "9f" * 8
ENV = {"SMTP_PASSWORD": PASSWORD}


class Mailbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.logins: list[bytes] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"books" and auth_data.password == PASSWORD.encode()
        if ok:
            self.logins.append(auth_data.login)
        return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Pings:
    """A healthchecks.io-like endpoint: records each ping's path and body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode()
        with self.lock:
            self.seen.append((environ["PATH_INFO"], body))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"OK"]


def _mail_config(demo: Path, port: int, transfer: dict | None = None, **email) -> None:
    write_config(demo, {"transfer": transfer or {}, "notify": {"email": {
        "to": ["bookkeeper@example.com"], "from": "iexsync@example.com", "host": "127.0.0.1", "port": port,
        "security": "none", "username": "books", "password": "${SMTP_PASSWORD}", **email}}})


def test_a_new_error_is_mailed_once_not_on_every_retry(demo: Path, smtp) -> None:
    box, port = smtp
    _mail_config(demo, port)
    first = run_process("sync", "--config", demo, env=ENV)
    assert first.returncode == 1
    assert len(box.messages) == 1 and box.logins == [b"books"]
    mail = box.messages[0]
    assert mail["To"] == "bookkeeper@example.com" and mail["Subject"] == "iexsync: 1 order(s) failed"
    assert "order 1009: error: line 2 'Gravering af navn (service)' has no SKU" in mail.get_payload()
    again = run_process("sync", "--config", demo, env=ENV)
    assert again.returncode == 0 and len(box.messages) == 1  # the same error: no second mail
    assert PASSWORD not in first.stdout + first.stderr + again.stderr


def test_a_warning_asking_for_action_is_mailed_without_an_error(demo: Path, smtp) -> None:
    box, port = smtp
    _mail_config(demo, port, transfer={"require_sku": False})
    run_process("sync", "--config", demo, env=ENV)
    sent = len(box.messages)
    assert sent == 0  # all well: no mail
    change_money_of_1003(demo)
    result = run_process("sync", "--config", demo, env=ENV)
    assert result.returncode == 0
    new = box.messages[sent:]
    assert [m["Subject"] for m in new] == ["iexsync: 1 warning(s) ask for action"]
    assert "order 1003: warning: The order's amounts changed after invoice 3 was booked" in new[0].get_payload()


def test_the_daily_digest_goes_once_a_day(demo: Path, smtp) -> None:
    box, port = smtp
    _mail_config(demo, port, digest=True)
    run_process("sync", "--config", demo, env=ENV)
    subjects = [m["Subject"] for m in box.messages]
    assert subjects == ["iexsync: 1 order(s) failed", "iexsync: daily digest"]
    digest = box.messages[1].get_payload()
    assert "in error: 1" in digest and "order 1009: line 2" in digest
    run_process("sync", "--config", demo, env=ENV)
    assert len(box.messages) == 2  # not again within the day


def test_a_mail_server_that_cannot_be_reached_does_not_change_the_run(demo: Path) -> None:
    _mail_config(demo, _free_port())
    result = run_process("sync", "--config", demo, env=ENV)
    assert result.returncode == 1  # 1009, as without mail
    assert "could not send mail through 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr


def test_a_password_is_not_sent_in_clear_to_another_host(demo: Path) -> None:
    write_config(demo, {"notify": {"email": {"to": ["a@example.com"], "host": "smtp.example.com", "security": "none",
                                             "username": "books", "password": "${SMTP_PASSWORD}"}}})
    result = run_process("config", "check", "--config", demo, env=ENV)
    assert result.returncode == 78
    assert "notify.email.security" in result.stderr and PASSWORD not in result.stderr


def test_the_ping_url_hears_start_success_and_failure(demo: Path) -> None:
    pings = Pings()
    with FakeServer(pings) as server:
        write_config(demo, {"notify": {"ping_url": f"{server.url}/ping/5f1c"}})
        failing = run_process("sync", "--config", demo)
        assert failing.returncode == 1
        assert [path for path, _ in pings.seen] == ["/ping/5f1c/start", "/ping/5f1c/fail"]
        assert "1 error" in pings.seen[1][1] and "6 transferred" in pings.seen[1][1]
        write_config(demo, {"transfer": {"require_sku": False}, "notify": {"ping_url": f"{server.url}/ping/5f1c"}})
        pings.seen.clear()
        passing = run_process("sync", "--config", demo)
        assert passing.returncode == 0
        assert [path for path, _ in pings.seen] == ["/ping/5f1c/start", "/ping/5f1c"]


def _tls(folder: Path):
    """A server TLS context for 127.0.0.1 from a test CA, and the CA's file for SSL_CERT_FILE."""
    trustme = pytest.importorskip("trustme", reason="trustme (a test dependency) is not installed")
    import ssl

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_context, ca_file


def test_mail_over_starttls_with_a_login(demo: Path, tmp_path: Path) -> None:
    server_context, ca_file = _tls(tmp_path)
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=box.authenticate,
                            tls_context=server_context, require_starttls=True, auth_require_tls=True)
    controller.start()
    try:
        _mail_config(demo, port, security="starttls")
        result = run_process("sync", "--config", demo, env={**ENV, "SSL_CERT_FILE": str(ca_file)})
        assert result.returncode == 1, result.stderr
        assert box.logins == [b"books"] and [m["Subject"] for m in box.messages] == ["iexsync: 1 order(s) failed"]
        (demo.parent / "iexsync.db").unlink()  # a new log: 1009's error is news again
        untrusted = run_process("sync", "--config", demo, env=ENV)  # the CA not trusted: no mail, and it says so
        assert "could not send mail" in untrusted.stderr and len(box.messages) == 1
    finally:
        controller.stop()


def test_mail_over_ssl_port_465_style_with_a_login(demo: Path, tmp_path: Path) -> None:
    """security: ssl — TLS from the first byte (SMTPS), against a real server speaking only TLS."""
    server_context, ca_file = _tls(tmp_path)
    box = Mailbox()
    sessions: list = []

    def authenticate(server, session, envelope, mechanism, auth_data):
        sessions.append(server.transport.get_extra_info("cipher"))  # the TLS the login came over
        return box.authenticate(server, session, envelope, mechanism, auth_data)

    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            ssl_context=server_context, auth_require_tls=False)
    controller.start()
    try:
        _mail_config(demo, port, security="ssl")
        result = run_process("sync", "--config", demo, env={**ENV, "SSL_CERT_FILE": str(ca_file)})
        assert result.returncode == 1, result.stderr
        assert "could not send mail" not in result.stderr
        assert box.logins == [b"books"] and [m["Subject"] for m in box.messages] == ["iexsync: 1 order(s) failed"]
        assert len(sessions) == 1 and sessions[0][1].startswith("TLS")  # the login went over TLS
        (demo.parent / "iexsync.db").unlink()  # a new log: 1009's error is news again
        _mail_config(demo, port, security="starttls", timeout=5)  # plain SMTP first to a TLS-only port: no mail, said
        plain = run_process("sync", "--config", demo, env={**ENV, "SSL_CERT_FILE": str(ca_file)}, timeout=90)
        assert "could not send mail" in plain.stderr and len(box.messages) == 1
        (demo.parent / "iexsync.db").unlink()
        _mail_config(demo, port, security="ssl", timeout=10)
        untrusted = run_process("sync", "--config", demo, env=ENV)  # the server's CA not trusted
        assert "could not send mail" in untrusted.stderr and len(box.messages) == 1
        assert PASSWORD not in result.stderr + plain.stderr + untrusted.stderr
    finally:
        controller.stop()


def test_a_run_that_cannot_finish_is_mailed_the_first_time_not_every_run(tmp_path: Path, smtp, server) -> None:
    """The shop unreachable: cron's run stops every 5 minutes for the same reason; one mail,
    until a run finishes again (then the next stop is news)."""
    from tests.fakes.woocommerce import FakeWooCommerce
    from tests.test_webhooks import KEY, SECRET

    box, port = smtp
    shop_port = _free_port()
    path = tmp_path / "config.yaml"

    def shop_at(url: str) -> None:
        path.write_text(json.dumps({
            "shop": {"platform": "woocommerce", "url": url, "consumer_key": KEY, "consumer_secret": SECRET},
            "accounting": {"system": "beancount", "path": "books/ledger.beancount"},
            "transfer": {"allowed_states": ["completed"], "require_sku": False},
            "notify": {"email": {"to": ["bookkeeper@example.com"], "host": "127.0.0.1", "port": port, "security": "none"}},
        }))
        path.chmod(0o600)

    shop_at(f"http://127.0.0.1:{shop_port}")  # nothing listens there
    runs = [run_process("sync", "--config", path, timeout=120) for _ in range(2)]
    assert [r.returncode for r in runs] == [75, 75], runs[0].stderr
    assert [m["Subject"] for m in box.messages] == ["iexsync: a run failed"]
    assert f"127.0.0.1:{shop_port}" in box.messages[0].get_payload()
    server.use(FakeWooCommerce(KEY, SECRET))
    shop_at(server.url)
    finished = run_process("sync", "--config", path)
    assert finished.returncode == 0, finished.stderr  # a run finishes again
    shop_at(f"http://127.0.0.1:{shop_port}")
    assert run_process("sync", "--config", path).returncode == 75
    assert [m["Subject"] for m in box.messages] == ["iexsync: a run failed"] * 2
