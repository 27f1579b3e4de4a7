"""The webhook receiver over real HTTP: waitress on a loopback port, the fake WooCommerce as
the shop (it signs and sends the deliveries), a Beancount file as the books."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import yaml

from iexsync import config as config_module
from iexsync import webhooks
from iexsync.lock import RunLock
from iexsync.store import Store
from tests.conftest import REPO, bean_check, ledger_entries, run_process
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer, wp_json

KEY, SECRET = "ck_" + "5d" * 20, "cs_" + "e8" * 20
HOOK_SECRET = "whsec-" + "3f" * 12


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    """The documentation's orders 723 (completed, two refunds), 727 and 729 (processing), 728 (pending)."""
    shop = server.use(FakeWooCommerce(KEY, SECRET, key_permissions="read_write", utc_offset=timedelta(hours=-3)))
    shop.load_vendor_examples()
    return shop


def write_config(folder: Path, server: WooServer, **shop: object) -> Path:
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["accounting"]["exchange_rates"] = {"home_currency": "USD"}  # the vendor's shop sells in USD: its ledger's own currency
    tree["shop"] = {"platform": "woocommerce", "url": server.url, "consumer_key": KEY, "consumer_secret": SECRET,
                    "webhook_secret": HOOK_SECRET, **shop}
    tree["transfer"].update({"start_date": None, "require_sku": False})
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


@pytest.fixture
def workspace(tmp_path: Path, server: WooServer) -> Path:
    return write_config(tmp_path, server)


class Running:
    """A WebhookServer serving in a thread of this process, as `iexsync webhook serve` does."""

    def __init__(self, config_path: Path, **options: object):
        self.settings = config_module.load(config_path)
        self.server = webhooks.WebhookServer(self.settings, port=0, **options)
        self.url = self.server.url
        self.base = self.url.rsplit("/webhooks/", 1)[0]
        self.ledger = config_path.parent / "books" / "ledger.beancount"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Running":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.thread.join(40)
        assert not self.thread.is_alive()

    def documents(self) -> list[str]:
        return ledger_entries(self.ledger)

    def inbox(self) -> list[tuple]:
        return inbox(self.settings.log_path)

    def settled(self, timeout: float = 10) -> None:
        """Until no delivery is queued and the worker has nothing left to do."""
        wait_for(lambda: not any(row[0] == "queued" for row in self.inbox()), timeout)
        wait_for(self.server.worker.idle, timeout)  # and a run for an order that arrived while another ran


@pytest.fixture
def receiver(workspace: Path) -> Iterator[Running]:
    with Running(workspace) as running:
        yield running


def inbox(log_path: Path) -> list[tuple]:
    """(status, order id, delivery id, reason) of every inbox row, oldest first."""
    conn = sqlite3.connect(log_path)
    try:
        return conn.execute("SELECT status, order_id, delivery_id, reason FROM inbox ORDER BY id").fetchall()
    finally:
        conn.close()


def log_bytes(log_path: Path) -> int:
    """The log's size as SQLite sees it (pages × page size, write-ahead pages included)."""
    conn = sqlite3.connect(log_path)
    try:
        return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()


def wait_for(condition: Callable[[], object], timeout: float = 10, every: float = 0.01) -> float:
    """Seconds until `condition()` held; fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(every)
    return time.monotonic() - start


@contextlib.contextmanager
def worker_says(text: str) -> Iterator[Callable[[], bool]]:
    """Whether the webhook worker has logged `text` (at any level) since the block began."""
    said: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("iexsync.webhooks")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lambda: any(text in message for message in said)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def hooks(fake: FakeWooCommerce, receiver: Running) -> dict[str, int]:
    """`iexsync webhook register` against the fake: topic → webhook id."""
    made = webhooks.register(receiver.settings, receiver.url)
    return {m["topic"]: m["id"] for m in made}


def signed(body: bytes, secret: str = HOOK_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery_headers(body: bytes, *, topic: str = "order.updated", signature: str | None = None,
                     delivery_id: str = "d-1") -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
               "X-WC-Webhook-Event": topic.split(".")[1], "X-WC-Webhook-ID": "142",
               "X-WC-Webhook-Delivery-ID": delivery_id}
    if signature is not None:
        headers["X-WC-Webhook-Signature"] = signature
    return headers


# --- the promise: seconds, once --------------------------------------------------------------
def test_a_signed_order_webhook_puts_the_order_in_the_books_within_two_seconds(fake, receiver) -> None:
    topics = hooks(fake, receiver)
    timings = []
    for order_id, reference in ((727, "iexsync:woocommerce:727:order"), (723, "iexsync:woocommerce:723:invoice")):
        start = time.monotonic()
        assert fake.deliver(topics["order.created"], order_id) == 200
        answered = time.monotonic() - start
        wait_for(lambda: reference in receiver.documents(), timeout=5)
        in_books = time.monotonic() - start
        timings.append((order_id, answered, in_books))
        assert answered < 1.0
        assert in_books < 2.0, f"order {order_id} took {in_books:.3f} s"
    for order_id, answered, in_books in timings:
        print(f"\norder {order_id}: answered in {answered * 1000:.0f} ms, in the books after {in_books * 1000:.0f} ms")
    receiver.settled()
    assert sorted(receiver.documents()) == sorted([
        "iexsync:woocommerce:727:order", "iexsync:woocommerce:723:invoice",
        "iexsync:woocommerce:723:credit_note:724", "iexsync:woocommerce:723:credit_note:726"])
    assert bean_check(receiver.ledger) == []
    # Every delivery is in the log beside its order's events.
    store = Store(receiver.settings.log_path, read_only=True)
    found = store.search("727")
    store.close()
    assert [row["outcome"] for row in found if row["outcome"].startswith("webhook")] == ["webhook done"]
    assert "transferred" in [row["outcome"] for row in found]


def test_an_order_not_in_an_allowed_state_is_logged_and_not_transferred(fake, receiver) -> None:
    topics = hooks(fake, receiver)
    assert fake.deliver(topics["order.created"], 728) == 200  # pending
    receiver.settled()
    assert receiver.documents() == []
    store = Store(receiver.settings.log_path, read_only=True)
    assert "Order state not allowed" in [row["message"] for row in store.search("728")]
    store.close()


def test_the_order_is_re_read_from_the_shop_not_taken_from_the_body(fake, receiver) -> None:
    """A correctly signed body that lies (a doctored total) books what the shop's API says."""
    order = fake.order_json(727)
    doctored = json.loads(json.dumps(order))
    doctored["total"] = "0.01"
    body = wp_json(doctored)
    answer = requests.post(receiver.url, data=body, headers=delivery_headers(body, signature=signed(body)), timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "queued"}
    wait_for(lambda: receiver.documents(), timeout=5)
    assert f"{float(order['total']):.2f}" in receiver.ledger.read_text()
    assert "0.01 " not in receiver.ledger.read_text()
    assert fake.orders[727].raw["total"] == order["total"]


def test_a_hundred_replays_of_one_delivery_give_one_document(fake, receiver) -> None:
    topics = hooks(fake, receiver)
    assert fake.deliver(topics["order.updated"], 729) == 200
    sent = fake.deliveries[-1]
    statuses, seconds = [], []
    with requests.Session() as session:
        for _ in range(100):
            start = time.monotonic()
            statuses.append(session.post(receiver.url, data=sent["body"], headers=sent["headers"], timeout=5).status_code)
            seconds.append(time.monotonic() - start)
    assert statuses == [200] * 100
    print(f"\n100 replays answered (committed first) in {sum(seconds) * 1000 / 100:.1f} ms on average, "
          f"{max(seconds) * 1000:.1f} ms at most")
    assert max(seconds) < 1
    receiver.settled()
    assert receiver.documents() == ["iexsync:woocommerce:729:order"]
    rows = receiver.inbox()
    assert [r[0] for r in rows].count("done") == 1 and [r[0] for r in rows].count("duplicate") == 100


def test_deliveries_for_different_orders_in_one_second_are_all_taken(fake, receiver) -> None:
    """WooCommerce 7.x gives every delivery of one webhook within a second the same
    X-WC-Webhook-Delivery-ID (wp_hash of webhook id and second): three orders saved
    together are three deliveries with one id, and none may be dropped. A replay (the
    same delivery again) still is."""
    topics = hooks(fake, receiver)
    second = datetime.now(timezone.utc).replace(microsecond=0)
    fake._now = lambda: second  # the shop's clock stands still: every delivery in one second
    assert [fake.deliver(topics["order.updated"], order_id) for order_id in (723, 727, 729)] == [200] * 3
    ids = {d["headers"]["X-WC-Webhook-Delivery-ID"] for d in fake.deliveries if d["webhook_id"] == topics["order.updated"]}
    assert len(ids) == 1
    receiver.settled()
    assert {reference.split(":")[2] for reference in receiver.documents()} == {"723", "727", "729"}
    replay = fake.deliveries[-1]
    answer = requests.post(receiver.url, data=replay["body"], headers=replay["headers"], timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "duplicate"}
    assert [(r[0], r[1]) for r in receiver.inbox()] == [("done", "723"), ("done", "727"), ("done", "729"),
                                                         ("duplicate", "729")]


def test_concurrent_deliveries_for_one_order_give_one_document(fake, receiver) -> None:
    topics = hooks(fake, receiver)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def send() -> None:
        barrier.wait()
        statuses.append(fake.deliver(topics["order.updated"], 727))

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    receiver.settled()
    assert receiver.documents() == ["iexsync:woocommerce:727:order"]


def test_a_change_arriving_while_the_worker_processes_the_order_is_transferred_too(fake, receiver, server) -> None:
    """727 is being processed (its run read it with 723, and is reading 723's refunds) when
    the shop completes it: the delivery for that change finds 727 still queued, yet it must
    not wait for cron."""
    topics = hooks(fake, receiver)
    lock = RunLock(receiver.settings.lock_path)
    lock.acquire()  # hold the worker off until both deliveries are queued, 727 first
    try:
        assert fake.deliver(topics["order.updated"], 727) == 200
        assert fake.deliver(topics["order.updated"], 723) == 200
        completed = []

        def meanwhile(request):
            if request.method == "GET" and request.path.endswith("/orders/723/refunds") and not completed:
                fake.modify(727, status="completed")
                completed.append(fake.deliver(topics["order.updated"], 727))
            return None

        server.faults = meanwhile
    finally:
        lock.release()
    try:
        wait_for(lambda: "iexsync:woocommerce:727:invoice" in receiver.documents(), timeout=5)
    except AssertionError:
        raise AssertionError(f"{receiver.inbox()} {receiver.documents()} {completed}") from None
    assert completed == [200]
    rows = receiver.inbox()
    receiver.settled()
    assert sorted(d for d in receiver.documents() if ":727:" in d) == ["iexsync:woocommerce:727:invoice",
                                                                      "iexsync:woocommerce:727:order"], rows
    assert "iexsync:woocommerce:723:invoice" in receiver.documents()


def test_a_cron_run_and_a_webhook_racing_on_one_order_give_one_document(fake, receiver, server, cli) -> None:
    topics = hooks(fake, receiver)
    server.latency = 0.02  # widen every window
    ids = [727, 729, 723]
    for order_id in ids:
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def webhook(order_id: int = order_id) -> None:
            barrier.wait()
            outcomes.append(fake.deliver(topics["order.updated"], order_id))

        sender = threading.Thread(target=webhook)
        sender.start()
        barrier.wait()
        result = cli("sync", "--config", receiver.settings.path)
        sender.join()
        assert result.exit_code in (0, 75), result.output  # 75: the worker held the lock; it transfers the order
        assert outcomes == [200]
    receiver.settled()
    entries = receiver.documents()
    assert sorted(entries) == sorted(set(entries)), entries  # nothing twice
    for order_id in (727, 729):
        assert entries.count(f"iexsync:woocommerce:{order_id}:order") == 1
    assert entries.count("iexsync:woocommerce:723:invoice") == 1
    assert bean_check(receiver.ledger) == []


def test_a_delivery_waits_while_cron_holds_the_lock_and_is_transferred_after(fake, receiver) -> None:
    topics = hooks(fake, receiver)
    lock = RunLock(receiver.settings.lock_path)
    lock.acquire()
    try:
        with worker_says("another run holds the lock") as said:
            assert fake.deliver(topics["order.created"], 727) == 200
            wait_for(said, timeout=5)  # the worker tried, and met the lock
        assert receiver.documents() == []
        assert [r[0] for r in receiver.inbox()] == ["queued"]
    finally:
        lock.release()
    seconds = wait_for(lambda: receiver.documents(), timeout=5)
    assert seconds < 2
    assert receiver.documents() == ["iexsync:woocommerce:727:order"]


def test_the_deliveries_of_a_burst_are_read_from_the_shop_in_one_request(fake, receiver, server) -> None:
    """Four orders queued while cron held the lock: the worker's run reads them with one
    `include=` request, not one GET each, and transfers every one."""
    topics = hooks(fake, receiver)
    lock = RunLock(receiver.settings.lock_path)
    lock.acquire()
    try:
        with worker_says("another run holds the lock") as said:
            assert [fake.deliver(topics["order.updated"], order_id) for order_id in (723, 727, 728, 729)] == [200] * 4
            wait_for(said, timeout=5)
        server.requests.clear()
    finally:
        lock.release()
    receiver.settled()
    reads = server.calls("GET", f"{API}/orders")
    assert [parse_qs(r.query)["include"][0] for r in reads if r.path == f"{API}/orders"] == ["723,727,728,729"]
    assert [r.path for r in reads if r.path.count("/") == API.count("/") + 2] == []  # no /orders/<id> on its own
    assert {reference.split(":")[2] for reference in receiver.documents()} == {"723", "727", "729"}  # 728: pending


# --- refusals -----------------------------------------------------------------------------------
def test_forged_missing_and_truncated_signatures_get_401_and_change_nothing(fake, receiver) -> None:
    body = wp_json(fake.order_json(727))
    good = signed(body)
    attempts = {
        "wrong secret": signed(body, "not-the-secret"),
        "truncated": good[:-4],
        "one character off": good[:-2] + ("B=" if good[-2] != "B" else "C="),
        "hex instead of base64": hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest(),
        "empty": "",
        "another body's": signed(body + b" "),
    }
    for why, signature in attempts.items():
        answer = requests.post(receiver.url, data=body, headers=delivery_headers(body, signature=signature), timeout=5)
        assert answer.status_code == 401, why
    unsigned = requests.post(receiver.url, data=body, headers=delivery_headers(body), timeout=5)
    assert unsigned.status_code == 401
    receiver.settled()  # a delivery that woke the worker wrongly: its run done before we look
    assert receiver.documents() == []
    rows = receiver.inbox()
    assert {r[0] for r in rows} == {"rejected"} and len(rows) == 1  # one row per reason and order a minute
    assert rows[0][1] == "727" and "signature" in rows[0][3]
    store = Store(receiver.settings.log_path, read_only=True)
    assert [row["outcome"] for row in store.search("727")] == ["webhook rejected"]
    store.close()


def test_a_thousand_forged_deliveries_change_nothing(fake, receiver) -> None:
    rng = random.Random(5)
    before = log_bytes(receiver.settings.log_path)
    start = time.monotonic()
    with requests.Session() as session:
        for n in range(1000):
            order = dict(fake.order_json(rng.choice([723, 727, 728, 729])), id=rng.randrange(1, 10**6))
            body = wp_json(order)
            forged = base64.b64encode(rng.randbytes(32)).decode()
            headers = delivery_headers(body, signature=forged, delivery_id=f"forged-{n}")
            assert session.post(receiver.url, data=body, headers=headers, timeout=5).status_code == 401
    seconds = time.monotonic() - start
    print(f"\n1,000 forged deliveries refused in {seconds:.2f} s ({seconds:.2f} ms each)")
    receiver.settled()  # a delivery that woke the worker wrongly: its run done before we look
    assert receiver.documents() == []
    rows = receiver.inbox()
    assert {r[0] for r in rows} == {"rejected"}
    assert len(rows) <= webhooks.REJECTIONS_PER_MINUTE * 2  # a minute boundary may fall inside the loop
    assert "not logged one by one" not in rows[0][3]
    grown = log_bytes(receiver.settings.log_path) - before
    print(f"inbox rows: {len(rows)}; the log grew by {grown} bytes")
    assert grown < 64 * 1024
    assert fake.webhooks == {} and len(fake.deliveries) == 0


def test_the_suppressed_rejections_are_counted_in_the_next_row_and_at_shutdown(workspace) -> None:
    with Running(workspace) as running:
        body = b'{"id":1}'
        with requests.Session() as session:
            for n in range(30):
                session.post(running.url, data=body, headers=delivery_headers(body, signature="x"), timeout=5)
    rows = running.inbox()
    assert len(rows) == 2
    assert rows[-1][3] == "29 more rejected deliveries were not logged one by one"


def test_rejections_get_one_row_per_reason_and_order_a_minute_and_ten_in_all() -> None:
    now = [1000.0]
    throttle = webhooks._Throttle(10, clock=lambda: now[0])
    assert throttle.admit(("signature", "727")) == 0
    assert throttle.admit(("signature", "727")) is None
    assert throttle.admit(("json", "")) == 1  # written, saying one was not
    assert [throttle.admit(("signature", str(n))) for n in range(10)] == [0] * 8 + [None, None]
    now[0] += 59.9
    assert throttle.admit(("signature", "999")) is None
    now[0] += 0.1  # a new minute
    assert throttle.admit(("signature", "727")) == 3
    assert throttle.drain() == 0


def test_the_ping_is_answered_200_and_nothing_else(fake, receiver) -> None:
    fake.ping_on_create = True
    hooks(fake, receiver)  # WooCommerce pings each webhook it creates
    for webhook_id in fake.webhooks:
        assert fake.ping(webhook_id) == 200
    assert receiver.inbox() == [] and receiver.documents() == []


def test_wrong_content_type_and_invalid_json_get_400(fake, receiver) -> None:
    body = wp_json(fake.order_json(727))
    form = requests.post(receiver.url, data=body, timeout=5,
                         headers={**delivery_headers(body, signature=signed(body)), "Content-Type": "text/plain"})
    assert form.status_code == 400 and "application/json" in form.json()["status"]
    broken = b'{"id": 727, "status": '
    invalid = requests.post(receiver.url, data=broken, headers=delivery_headers(broken, signature=signed(broken)), timeout=5)
    assert invalid.status_code == 400
    no_id = b'{"status":"processing"}'
    answer = requests.post(receiver.url, data=no_id, headers=delivery_headers(no_id, signature=signed(no_id)), timeout=5)
    assert answer.status_code == 400
    deep = b"[" * 200_000 + b"]" * 200_000  # deeper than Python's recursion limit
    assert requests.post(receiver.url, data=deep, headers=delivery_headers(deep, signature=signed(deep)),
                         timeout=5).status_code == 400
    assert requests.post(receiver.url, data=deep, headers=delivery_headers(deep, signature="x"),
                         timeout=5).status_code == 401
    receiver.settled()
    assert [r[0] for r in receiver.inbox()] == ["rejected"] * 4  # the signed deep one: the same reason as the broken one, in the same minute
    assert receiver.documents() == []


def test_other_topics_are_answered_and_ignored(fake, receiver) -> None:
    for topic, payload in (("order.deleted", {"id": 727}), ("product.updated", {"id": 99, "name": "Lamp"})):
        body = wp_json(payload)
        answer = requests.post(receiver.url, data=body, timeout=5,
                               headers=delivery_headers(body, topic=topic, signature=signed(body)))
        assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    assert receiver.inbox() == []


def test_a_ten_megabyte_body_gets_413_without_being_read(receiver) -> None:
    host, port = receiver.server.address
    total = 10 * 1024 * 1024
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(
            f"POST /webhooks/woocommerce HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"X-WC-Webhook-Signature: {'A' * 43}=\r\nContent-Length: {total}\r\n\r\n".encode()
        )
        conn.sendall(b"{" + b" " * 65535)  # 64 kB of the 10 MB, and no more
        start = time.monotonic()
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        assert time.monotonic() - start < 1
    assert receiver.inbox() == []


def test_the_app_itself_reads_at_most_the_cap_plus_one_byte(fake, workspace) -> None:
    """Mounted under a server that passes a chunked body through without a length."""

    class Stream:
        read_total = 0

        def read(self, size: int = -1) -> bytes:
            assert size > 0
            self.read_total += size
            return b"x" * size

    settings = config_module.load(workspace)
    from iexsync.service import open_shop

    app = webhooks.Receiver(settings, open_shop(settings), max_body=100_000)
    stream = Stream()
    answers = []
    body = app({"REQUEST_METHOD": "POST", "PATH_INFO": "/webhooks/woocommerce", "wsgi.input": stream,
                "CONTENT_TYPE": "application/json"}, lambda status, headers: answers.append(status))
    assert answers == ["413 Payload Too Large"] and json.loads(b"".join(body)) == {"status": "body too large"}
    assert stream.read_total == 100_001


@pytest.mark.slow  # waits out the log's 4 s busy timeout
def test_a_delivery_the_log_cannot_take_gets_503_before_the_shop_gives_up(fake, receiver) -> None:
    """Shopify waits 5 s for an answer: a log locked longer than that is a 503, not a hang."""
    topics = hooks(fake, receiver)
    blocker = sqlite3.connect(receiver.settings.log_path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        assert fake.deliver(topics["order.updated"], 727) == 503
        seconds = time.monotonic() - start
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert webhooks.LOG_BUSY_TIMEOUT_MS / 1000 <= seconds < 5
    receiver.settled()
    assert receiver.inbox() == [] and receiver.documents() == []


def test_a_delivery_waiting_behind_the_workers_transaction_gets_503_in_time_too(fake, receiver) -> None:
    """Writers in the receiver's process take turns on a lock of their own before SQLite's
    (so a delivery starts the moment the worker commits, not at the busy handler's next
    try). A transaction of the worker's that lasts (say it waits for cron's lock) holds
    a delivery no longer than the log's busy timeout either: 503, not a hang."""
    topics = hooks(fake, receiver)
    workers_log = Store(receiver.settings.log_path)  # as the worker's run opens it, in this process
    try:
        with workers_log.transaction():
            start = time.monotonic()
            assert fake.deliver(topics["order.updated"], 727) == 503
            seconds = time.monotonic() - start
    finally:
        workers_log.close()
    assert webhooks.LOG_BUSY_TIMEOUT_MS / 1000 <= seconds < 5
    assert fake.deliver(topics["order.updated"], 727) == 200  # the lock is free again
    receiver.settled()
    assert [row[:2] for row in receiver.inbox()] == [("done", "727")]


def test_each_server_thread_keeps_one_log_connection(fake, receiver) -> None:
    """A delivery costs its INSERT and commit, not an open (and migration check) and a
    close of the log: 20 deliveries, at most one connection per waitress thread (4)."""
    topics = hooks(fake, receiver)
    answers = [fake.deliver(topics["order.updated"], order_id) for order_id in (723, 727, 729, 728) * 5]
    assert answers == [200] * 20
    assert 1 <= receiver.server.app.logs.opened <= 4
    receiver.settled()
    assert sorted({row[1] for row in receiver.inbox()}) == ["723", "727", "728", "729"]


def test_health_and_unknown_paths(receiver) -> None:
    assert requests.get(receiver.base + "/health", timeout=5).status_code == 200
    assert requests.get(receiver.base + "/health", timeout=5).json() == {"status": "ok"}
    assert requests.post(receiver.base + "/webhooks/shopify", data=b"{}", timeout=5).status_code == 404
    assert requests.post(receiver.base + "/nothing", data=b"{}", timeout=5).status_code == 404
    assert requests.get(receiver.url, timeout=5).status_code == 405


# --- the cron run is the safety net -----------------------------------------------------------------
def serve_process(config_path: Path, *prefix: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", *(prefix or ("iexsync",)), "webhook", "serve", "--config", str(config_path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, cwd=REPO,
    )
    line = process.stdout.readline()
    assert "receiving webhooks at" in line, line + process.stderr.read()
    return process, line.split(" at ", 1)[1].split()[0]


def quietly(fake: FakeWooCommerce, order_id: int, status: str) -> None:
    """Change an order's status without moving its modification time (as a plugin writing the
    database directly does): a change only the webhook announces."""
    fake.orders[order_id].raw["status"] = fake.orders[order_id].status = status


def test_a_delivery_whose_receiver_was_killed_before_its_run_is_transferred_by_the_next_sync(fake, workspace) -> None:
    quietly(fake, 727, "pending")
    first = run_process("sync", "--config", workspace)  # the cursor now stands past every order
    assert first.returncode == 0, first.stderr
    ledger = workspace.parent / "books" / "ledger.beancount"
    before = sorted(ledger_entries(ledger))
    assert "iexsync:woocommerce:727:order" not in before
    quietly(fake, 727, "processing")
    settings = config_module.load(workspace)
    lock = RunLock(settings.lock_path)
    lock.acquire()  # the worker cannot start its run
    process, url = serve_process(workspace)
    try:
        webhooks_made = webhooks.register(settings, url)
        assert fake.deliver(webhooks_made[1]["id"], 727) == 200
    finally:
        process.kill()  # SIGKILL: no cleanup at all
        process.wait(10)
        process.stdout.close(), process.stderr.close()
        lock.release()
    assert sorted(ledger_entries(ledger)) == before
    assert [row[:2] for row in inbox(settings.log_path)] == [("queued", "727")]
    result = run_process("sync", "--config", workspace)
    assert result.returncode == 0, result.stderr
    assert sorted(ledger_entries(ledger)) == sorted([*before, "iexsync:woocommerce:727:order"])
    assert [row[:2] for row in inbox(settings.log_path)] == [("done", "727")]
    found = run_process("log", "search", "727", "--config", workspace, "--json")
    assert "webhook done" in [row["outcome"] for row in json.loads(found.stdout)]


def test_a_receiver_killed_mid_run_leaves_the_next_sync_one_document(fake, workspace) -> None:
    """SIGKILL right after the worker wrote the document, before it was recorded."""
    quietly(fake, 729, "pending")
    assert run_process("sync", "--config", workspace).returncode == 0
    ledger = workspace.parent / "books" / "ledger.beancount"
    before = sorted(ledger_entries(ledger))
    quietly(fake, 729, "processing")
    process, url = serve_process(workspace, "tests.reliability.crash", "after-create", "1", "--")
    settings = config_module.load(workspace)
    try:
        made = webhooks.register(settings, url)
        assert fake.deliver(made[0]["id"], 729) == 200
        try:
            assert process.wait(10) == -signal.SIGKILL
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(process.stderr.read()) from None
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close(), process.stderr.close()
    written = sorted([*before, "iexsync:woocommerce:729:order"])
    assert sorted(ledger_entries(ledger)) == written  # written, never recorded
    result = run_process("sync", "--config", workspace)
    assert result.returncode == 0, result.stderr
    assert sorted(ledger_entries(ledger)) == written  # found by its reference, not written again
    assert [row[:2] for row in inbox(settings.log_path)] == [("done", "729")]
    assert bean_check(ledger) == []


def test_serve_stops_cleanly_on_sigterm(fake, workspace) -> None:
    process, url = serve_process(workspace)
    try:
        assert requests.get(url.rsplit("/webhooks/", 1)[0] + "/health", timeout=5).status_code == 200
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert time.monotonic() - start < 3
        assert "stopped" in process.stdout.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close(), process.stderr.close()


# --- serve and register refuse what cannot work --------------------------------------------------
def test_serve_refuses_to_start_without_a_webhook_secret_or_for_a_folder_shop(tmp_path, server, demo, cli) -> None:
    (tmp_path / "secretless").mkdir()
    path = write_config(tmp_path / "secretless", server, webhook_secret=None)
    result = cli("webhook", "serve", "--config", path, "--port", "0")
    assert result.exit_code == 78 and "shop.webhook_secret is not set" in result.output
    folder = cli("webhook", "serve", "--config", demo, "--port", "0")
    assert folder.exit_code == 78 and "sends no webhooks" in folder.output


def test_serve_says_when_the_port_is_taken(workspace, cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("webhook", "serve", "--config", workspace, "--port", str(taken.getsockname()[1]))
    assert result.exit_code == 75 and "cannot listen on 127.0.0.1:" in result.output


def test_register_creates_the_order_webhooks_with_the_secret_and_replaces_its_own(fake, workspace, cli) -> None:
    url = "https://shop-books.example.com/webhooks/woocommerce"
    first = cli("webhook", "register", "--config", workspace, "--url", url)
    assert first.exit_code == 0, first.output
    assert sorted((w["topic"], w["delivery_url"], w["secret"], w["status"]) for w in fake.webhooks.values()) == [
        ("order.created", url, HOOK_SECRET, "active"), ("order.updated", url, HOOK_SECRET, "active")]
    fake.webhooks[min(fake.webhooks)]["status"] = "disabled"  # after 7 failed deliveries
    again = cli("webhook", "register", "--config", workspace, "--url", url)
    assert again.exit_code == 0 and "replaces" in again.output, again.output
    assert sorted((w["topic"], w["status"]) for w in fake.webhooks.values()) == [
        ("order.created", "active"), ("order.updated", "active")]
    assert HOOK_SECRET not in first.output + again.output


def test_register_refuses_plain_http_off_this_machine_and_a_missing_secret(fake, tmp_path, server, cli) -> None:
    path = write_config(tmp_path, server)
    plain = cli("webhook", "register", "--config", path, "--url", "http://shop-books.example.com/webhooks/woocommerce")
    assert plain.exit_code == 2 and "plain http" in plain.output
    assert fake.webhooks == {}
    local = cli("webhook", "register", "--config", path, "--url", "http://127.0.0.1:8080/webhooks/woocommerce")
    assert local.exit_code == 0, local.output
    no_secret = cli("webhook", "register", "--config", write_config(tmp_path, server, webhook_secret=None),
                    "--url", "https://x.example.com/webhooks/woocommerce")
    assert no_secret.exit_code == 78 and "webhook_secret" in no_secret.output


def test_register_with_a_read_only_key_says_what_to_do(fake, workspace, cli) -> None:
    fake.key_permissions = "read"
    result = cli("webhook", "register", "--config", workspace, "--url", "https://x.example.com/webhooks/woocommerce")
    assert result.exit_code == 77
    assert "Read/Write" in result.output and "WooCommerce → Settings → Advanced → Webhooks" in result.output
    assert fake.webhooks == {}
