"""5. Secrets. This module runs last in the suite (its name sorts last): after everything
above, no API key, token or secret of the test setup (support.SECRETS, in every form it
could leak: plain, URL-encoded, inside a Basic auth header) appears in any log database
(every table, every column, and the raw bytes of the files, WAL included), in anything
any run printed, or in any traceback. Beside that:

- a config file that holds secrets and can be read by other users gets a warning;
- credentials are never sent over plain http to a host that is not this machine: a
  listener on this machine's own non-loopback address must see no connection (and does,
  as a control, once the config says allow_insecure_http);
- runs provoked into failing (rejected tokens, maintenance pages, 5xx, connection resets,
  query-string auth) are scanned too.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tests.fakes.faulty_proxy import FaultyProxy
from tests.fakes.server import FakeServer
from tests.fakes.woocommerce import FakeWooCommerce, WooServer
from tests.reliability.support import (
    COLLECTOR, SECRETS, assert_no_crash, economic, make_orders, run_iexsync, secret_needles, write_config,
)


# --- a config readable by others ---------------------------------------------------------------
@pytest.mark.parametrize(("mode", "literal", "warned"), [
    (0o644, True, True), (0o640, True, True), (0o600, True, False), (0o644, False, False),
])
def test_a_config_with_secrets_readable_by_others_warns(tmp_path: Path, tally, mode: int, literal: bool, warned: bool) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", mode=mode)
    if literal:
        tree = yaml.safe_load(config.read_text())
        tree["accounting"]["app_secret_token"] = SECRETS["ECONOMIC_APP_SECRET_TOKEN"]
        tree["accounting"]["agreement_grant_token"] = SECRETS["ECONOMIC_AGREEMENT_GRANT_TOKEN"]
        config.write_text(yaml.safe_dump(tree))
        config.chmod(mode)
    (tmp_path / "orders").mkdir()
    result = run_iexsync(tally, "config", "check", "--config", config)
    assert_no_crash(result, allowed=(0,))
    said = "holds secrets and can be read by other users" in result.stderr
    assert said == warned, result.stderr
    if warned:
        assert f"chmod 600 {config}" in result.stderr


# --- plain http to another machine -------------------------------------------------------------
def own_address() -> str | None:
    """This machine's address on its outward interface (not loopback), if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.123", 9))  # no packet is sent: this only picks the interface
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address


class Listener:
    """A TCP listener that records what arrives and answers 401."""

    def __init__(self, host: str):
        self.socket = socket.socket()
        self.socket.bind((host, 0))
        self.socket.listen(16)
        self.socket.settimeout(0.1)
        self.url = f"http://{host}:{self.socket.getsockname()[1]}"
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "Listener":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.drained()
        self.socket.close()

    def drained(self) -> list[bytes]:
        """Everything that arrived, once the client has ended: the serving thread stopped,
        then every connection still waiting in the backlog taken too (a finished process's
        connection is there or taken already: no sleep needed to see it)."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)
        self.socket.settimeout(0)
        while self._take():
            pass
        return self.received

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._take()

    def _take(self) -> bool:
        try:
            connection, _ = self.socket.accept()
        except (BlockingIOError, socket.timeout, OSError):
            return False
        with connection:
            connection.settimeout(2)
            try:
                self.received.append(connection.recv(65536))
                connection.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            except OSError:
                pass
        return True


@pytest.fixture
def elsewhere() -> Iterator[Listener]:
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to listen on")
    with Listener(address) as listener:
        yield listener


def shop_section(url: str, **extra) -> dict:
    return {"platform": "woocommerce", "url": url, "consumer_key": "${WC_CONSUMER_KEY}",
            "consumer_secret": "${WC_CONSUMER_SECRET}", "webhook_secret": "${WC_WEBHOOK_SECRET}", **extra}


@pytest.mark.parametrize("insecure", [False, True], ids=["refused", "allowed-control"])
@pytest.mark.parametrize("where", ["accounting", "shop"])
def test_no_credentials_over_plain_http_to_another_host(tmp_path: Path, tally, elsewhere: Listener, where: str,
                                                        insecure: bool) -> None:
    make_orders(tmp_path / "orders", 1)
    if where == "accounting":
        config = write_config(tmp_path, elsewhere.url, accounting={"allow_insecure_http": insecure})
    else:
        with economic() as (_, server):
            config = write_config(tmp_path, server.url, shop=shop_section(elsewhere.url, allow_insecure_http=insecure))
    result = run_iexsync(tally, "sync", "--config", config, timeout=120)
    assert_no_crash(result, allowed=(77,) if insecure else (78,))
    received = elsewhere.drained()  # the run has ended: whatever it sent is in
    if insecure:
        assert received, "the control run never reached the listener: the refusal above proves nothing"
    else:
        assert received == []
        assert "plain http" in result.stderr and "allow_insecure_http" in result.stderr


def test_a_redirect_never_carries_the_tokens_to_plain_http_elsewhere(tmp_path: Path, tally, elsewhere: Listener) -> None:
    def redirect(environ, start_response):
        start_response("301 Moved Permanently", [("Location", elsewhere.url + environ["PATH_INFO"]),
                                                 ("Content-Length", "0")])
        return [b""]

    make_orders(tmp_path / "orders", 1)
    with FakeServer(redirect) as server:
        config = write_config(tmp_path, server.url)
        result = run_iexsync(tally, "sync", "--config", config, timeout=120)
    assert "Traceback" not in result.stderr
    leaked = [r for r in elsewhere.drained() if SECRETS["ECONOMIC_APP_SECRET_TOKEN"].encode() in r]
    tally.add(secret_leaks=len(leaked))
    assert leaked == []


def test_a_mistyped_token_is_not_echoed_by_the_config_errors(tmp_path: Path, tally) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9")
    tree = yaml.safe_load(config.read_text())
    tree["accounting"]["agreement_grant_token"] = 987654321098765  # an all-digit token, unquoted in YAML
    config.write_text(yaml.safe_dump(tree))
    (tmp_path / "orders").mkdir()
    result = run_iexsync(tally, "sync", "--config", config)
    assert_no_crash(result, allowed=(78,))
    assert "agreement_grant_token" in result.stderr
    assert "987654321098765" not in result.stderr, result.stderr


# --- runs provoked into failing, for the scan below ---------------------------------------------
def test_failing_runs_print_no_secret(tmp_path: Path, tally) -> None:
    """Rejected tokens, a shop behind a challenge page, e-conomic answering 5xx and resetting
    connections, query-string auth, a dry run, log search and states: all kept for the scan."""
    needles = secret_needles()
    outputs = []
    with WooServer() as woo, economic() as (fake, server):
        shop = woo.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"],
                                       utc_offset=timedelta(hours=1)))
        for order in make_orders(tmp_path / "seed", 6, refund_every=3):
            shop.add_order(order)
        flaky = FaultyProxy(server.url, lambda e: "reset_after" if e.method == "POST" and e.seq % 3 == 0 else (
            "status_503_after" if e.method == "POST" and e.seq % 5 == 0 else None))
        with flaky:
            # query_string_auth over plain http is refused (78) before anything is sent; the runs
            # after the loop use the last config: OAuth 1.0a, which a wrong secret fails with 77.
            commands = {True: [("sync", "--verbose"), ("states",), ("config", "check")],
                        False: [("sync", "--verbose"), ("sync", "--dry-run"), ("log", "search", "50001")]}
            for query_auth, runs in commands.items():
                folder = tmp_path / f"qs{int(query_auth)}"
                config = write_config(folder, flaky.url, shop=shop_section(woo.url, query_string_auth=query_auth))
                for args in runs:
                    outputs.append(run_iexsync(tally, *args, "--config", config, timeout=300))
            shop.html_mode = "challenge"  # a security plugin's HTML page where JSON belongs
            outputs.append(run_iexsync(tally, "sync", "--config", config))
            shop.html_mode = None
            shop.modify(50001, customer_note="changed: written again")
            outputs.append(run_iexsync(tally, "sync", "--config", config,
                                       env={"ECONOMIC_AGREEMENT_GRANT_TOKEN": "relWrongGrant-000000000000"}))
            outputs.append(run_iexsync(tally, "sync", "--config", config, env={"WC_CONSUMER_SECRET": "cs_" + "0" * 40}))
    codes = sorted({r.returncode for r in outputs})
    tally.add(documents=len(fake.booked))
    tally.note(f"exit codes seen: {codes}")
    tally.note("seconds: " + ", ".join(f"{' '.join(r.args[3:5])} {r.returncode} {r.seconds:.1f}" for r in outputs))
    assert 77 in codes and 75 in codes
    assert [r.returncode for r in outputs[:2]] == [78, 78], "query-string auth over http must be refused"
    for result in outputs:
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        for name, needle in needles.items():
            assert needle not in result.stdout + result.stderr, f"{name} printed by {result.args[3:]}"


# --- the scan ---------------------------------------------------------------------------------
def scan_database(path: Path, needles: dict[str, str]) -> tuple[list[str], int]:
    hits, cells = [], 0
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    cells += 1
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    hits += [f"{path} table {table}: {name}" for name, needle in needles.items() if needle in text]
    return hits, cells


def test_zz_no_secret_in_any_log_output_or_traceback(tally) -> None:
    """Everything every reliability test above printed, and every log it wrote."""
    if not COLLECTOR.outputs:
        pytest.skip("nothing to scan: run this with the rest of tests/reliability")
    needles = secret_needles()
    hits: list[str] = []
    for where, text in COLLECTOR.outputs:
        hits += [f"{where}: {name}" for name, needle in needles.items() if needle in text]
    databases = [p for p in COLLECTOR.databases if p.exists()]
    cells = raw = 0
    for path in databases:
        found, counted = scan_database(path, needles)
        hits += found
        cells += counted
        for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
            if companion.exists():
                data = companion.read_bytes()
                raw += len(data)
                hits += [f"{companion} (bytes): {name}" for name, needle in needles.items() if needle.encode() in data]
    files = [p for p in dict.fromkeys(COLLECTOR.files) if p.exists()]  # ledgers, journals
    for path in files:
        data = path.read_bytes()
        raw += len(data)
        hits += [f"{path} (bytes): {name}" for name, needle in needles.items() if needle.encode() in data]
    tracebacks = sum(1 for _, text in COLLECTOR.outputs if "Traceback" in text)
    tally.add(outputs_scanned=len(COLLECTOR.outputs), databases_scanned=len(databases), cells_scanned=cells,
              bytes_scanned=raw, tracebacks_scanned=tracebacks, secret_leaks=len(hits))
    tally.note(f"scanned {len(COLLECTOR.outputs)} outputs ({tracebacks} with a traceback), {len(databases)} logs, "
               f"{len(files)} ledgers, {cells} cells, {raw} raw bytes for {len(needles)} secret forms")
    assert hits == [], "\n".join(hits[:20])


@pytest.mark.slow
def test_zz_no_secret_after_the_full_size_runs(tally) -> None:
    """The same scan, last in a `-m slow` session: over everything the full sizes printed and wrote."""
    test_zz_no_secret_in_any_log_output_or_traceback(tally)
