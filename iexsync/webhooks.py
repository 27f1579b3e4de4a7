"""The webhook receiver: `iexsync webhook serve` and `iexsync webhook register`.

A small WSGI application served by waitress, and a worker thread beside it:

- `POST /webhooks/<platform>` (the configured `shop.platform`; any other → 404). In order:
  the body is read up to the cap (bigger → 413, never read whole); the shop connector
  checks the signature over the raw bytes (anything else → 401 and no side effect but one
  compact "rejected" row); the platform's unsigned handshake (WooCommerce's
  `webhook_id=N` ping) → 200 and nothing else; a verified body must be JSON sent as
  application/json (else 400); the connector takes the order id from it, and nothing
  else. The delivery is committed to the log's inbox before the 200 goes out; a replayed
  delivery, or one for an order already waiting, is answered 200 and dropped.
- `GET /health` → 200.
- The worker runs the same engine under the same lock as `iexsync sync`, for the queued
  orders only, moments after each delivery (a burst becomes one run). It re-reads each
  order from the shop's API. If cron holds the lock it retries shortly; whatever it never
  gets to (a crash, a stop) stays queued in the log, and the next `iexsync sync` takes it.

Rejected deliveries are logged compactly, so a flood of forgeries cannot fill the disk:
at most one row per reason and claimed order per minute, and at most
REJECTIONS_PER_MINUTE rows a minute in all; the next row written says how many were not.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from iexsync import service
from iexsync.config import Settings
from iexsync.errors import ConfigError, LockBusy, TemporaryFailure, UsageError, UserError
from iexsync.http import is_loopback
from iexsync.redaction import redact
from iexsync.shops.base import WebhookInvalid, WebhookSource, webhook_source
from iexsync.store import Store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_BODY = 2 * 1024 * 1024  # a WooCommerce order with hundreds of lines is well under 200 kB
REJECTIONS_PER_MINUTE = 10  # rejected rows written per minute at most (one per reason and claimed order)
LOG_BUSY_TIMEOUT_MS = 4000  # a delivery waits this long for the log, then gets 503 (Shopify gives up at 5 s)

log = logging.getLogger("iexsync.webhooks")


# --- the WSGI application ------------------------------------------------------------------
@dataclass(frozen=True)
class _Answer:
    status: int
    text: str
    headers: tuple[tuple[str, str], ...] = ()


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 503: "Service Unavailable"}


class Receiver:
    """The WSGI app. Thread-safe: each of the server's threads has its own connection to
    the log (`ThreadLogs`); `close()` closes them."""

    def __init__(self, settings: Settings, shop: WebhookSource, worker: "Worker | None" = None, *,
                 max_body: int = DEFAULT_MAX_BODY):
        self.settings = settings
        self.shop = shop
        self.platform = str(settings.shop["platform"])
        self.worker = worker
        self.max_body = max_body
        self.rejections = _Throttle(REJECTIONS_PER_MINUTE)
        self.logs = ThreadLogs(settings)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        answer = self._route(environ)
        body = json.dumps({"status": answer.text}).encode() if answer.text else b""
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *answer.headers]
        start_response(f"{answer.status} {_REASONS.get(answer.status, 'Status')}", headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def _route(self, environ: dict[str, Any]) -> _Answer:
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/health":
            if method not in ("GET", "HEAD"):
                return _Answer(405, "method not allowed", (("Allow", "GET, HEAD"),))
            return _Answer(200, "ok")
        match = re.fullmatch(r"/webhooks/([A-Za-z0-9_.-]+)/?", path)
        if not match or match.group(1) != self.platform:
            return _Answer(404, "not found")
        if method != "POST":
            return _Answer(405, "method not allowed", (("Allow", "POST"),))
        return self._delivery(environ)

    def _delivery(self, environ: dict[str, Any]) -> _Answer:
        remote = str(environ.get("REMOTE_ADDR", ""))[:64]
        body = _read_capped(environ, self.max_body)
        if body is None:
            # Too big to be a delivery of ours; never read whole (waitress refuses it even earlier).
            return self._reject(413, "too-large", f"the body is larger than {self.max_body} bytes", remote)
        headers = _headers(environ)
        if not self.shop.verify_webhook(headers, body):
            if self.shop.is_webhook_ping(headers, body):
                log.info("ping from %s answered (a webhook was saved in the shop)", remote)
                return _Answer(200, "pong")
            claim = self._claim(headers, body)
            return self._reject(401, "signature", "the signature is missing or does not match shop.webhook_secret",
                                remote, *claim)
        # Verified: the shop sent these bytes. Still, only the order id is taken from them.
        content_type = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if content_type != "application/json":
            claim = self._claim(headers, body)
            shown = content_type[:60] or "none"
            return self._reject(400, "content-type", f"content type {shown}, expected application/json", remote, *claim)
        try:
            json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
            return self._reject(400, "json", "the body is not valid JSON", remote)
        try:
            delivery = self.shop.webhook_delivery(headers, body)
        except WebhookInvalid as exc:
            return self._reject(400, "no-order", str(exc), remote)
        if delivery is None:
            log.info("delivery from %s is not about an order to transfer; answered and ignored", remote)
            return _Answer(200, "ignored")
        if self.worker is not None:
            self.worker.arriving(delivery.order_id)
        try:
            with self.logs.store() as store:
                status = store.enqueue_delivery(self.platform, delivery.delivery_id, delivery.order_id, delivery.topic,
                                                remote)
        except (UserError, sqlite3.Error) as exc:  # the shop hears a failure; cron reads the order later
            log.error("delivery for order %s could not be recorded: %s", delivery.order_id, redact(str(exc)))
            return _Answer(503, "the log cannot be written")
        log.info("order %s %s (%s, delivery %s) from %s", delivery.order_id,
                 "queued" if status == "queued" else "duplicate, dropped", delivery.topic, delivery.delivery_id, remote)
        if self.worker is not None and status == "queued":
            self.worker.wake()
        return _Answer(200, status)

    def _claim(self, headers: Mapping[str, str], body: bytes) -> tuple[str, str]:
        """(delivery id, order id) an unverified delivery claims, for the log only."""
        try:
            claimed = self.shop.webhook_delivery(headers, body)
        except (ValueError, RecursionError):  # WebhookInvalid is a ValueError
            return "", ""
        if claimed is None:
            return "", ""
        return _printable(claimed.delivery_id), _printable(claimed.order_id)

    def _reject(self, status: int, kind: str, reason: str, remote: str, delivery_id: str = "",
                order_id: str = "") -> _Answer:
        suppressed = self.rejections.admit((kind, order_id))
        if suppressed is not None:
            text = reason + (f"; {suppressed} more rejected deliveries before this one were not logged one by one"
                             if suppressed else "")
            log.warning("rejected (%d) a delivery from %s%s: %s", status, remote,
                        f" claiming order {order_id}" if order_id else "", text)
            try:
                with self.logs.store() as store:
                    store.reject_delivery(self.platform, text, remote, delivery_id, order_id=order_id)
            except (UserError, sqlite3.Error) as exc:
                log.error("a rejected delivery could not be logged: %s", redact(str(exc)))
        return _Answer(status, {401: "invalid signature", 413: "body too large"}.get(status, reason))

    def flush_rejections(self) -> None:
        """At shutdown: say how many rejections were counted but not logged one by one."""
        suppressed = self.rejections.drain()
        if suppressed:
            try:
                with self.logs.store() as store:
                    store.reject_delivery(self.platform, f"{suppressed} more rejected deliveries were not logged one by one")
            except (UserError, sqlite3.Error):
                pass

    def close(self) -> None:
        """After the last request: the threads' log connections."""
        self.logs.close()


class _Throttle:
    """Which rejections get a row: one per key per minute, `per_minute` in all."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self.clock = clock
        self.lock = threading.Lock()
        self.window = -1.0
        self.keys: set[Any] = set()
        self.written = 0
        self.suppressed = 0

    def admit(self, key: Any) -> int | None:
        """None: count it only; else write it, mentioning this many suppressed before it."""
        with self.lock:
            now = self.clock()
            if self.window < 0 or now - self.window >= 60:
                self.window, self.keys, self.written = now, set(), 0
            if key in self.keys or self.written >= self.per_minute:
                self.suppressed += 1
                return None
            self.keys.add(key)
            self.written += 1
            suppressed, self.suppressed = self.suppressed, 0
            return suppressed

    def drain(self) -> int:
        with self.lock:
            suppressed, self.suppressed = self.suppressed, 0
            return suppressed


def _read_capped(environ: dict[str, Any], cap: int) -> bytes | None:
    """The body, or None when it is longer than `cap`: at most cap + 1 bytes are read."""
    stream = environ.get("wsgi.input")
    length_text = str(environ.get("CONTENT_LENGTH") or "").strip()
    if length_text:
        if not length_text.isdigit():
            return None
        length = int(length_text)
        if length > cap:
            return None
        want = length
    else:
        want = cap + 1  # no length given (a server that passes chunked bodies through): read up to the cap
    if stream is None or want == 0:
        return b""
    chunks, got = [], 0
    while got < want:
        chunk = stream.read(min(65536, want - got))
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    body = b"".join(chunks)
    return None if len(body) > cap else body


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {key[5:].replace("_", "-").title(): str(value) for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").title()] = str(environ[key])
    return headers


def _printable(value: str) -> str:
    """A claimed id as the log may hold it: short, plain characters, else nothing."""
    return value if re.fullmatch(r"[\w.:+/=-]{1,100}", value or "") else ""


def _open_log(settings: Settings) -> Store:
    return Store(settings.log_path, busy_timeout_ms=LOG_BUSY_TIMEOUT_MS)


class ThreadLogs:
    """One open log per thread that asks (waitress's few request threads), kept open: a
    delivery then costs its INSERT and commit, not an open, a migration check and a close
    (the last connection's close checkpoints the WAL) every time. A connection that fails
    is closed and not used again; that thread's next delivery opens a new one."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.opened = 0  # connections opened in all (one per thread while none fails)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[Store] = []

    @contextmanager
    def store(self) -> Iterator[Store]:
        store = getattr(self._local, "store", None)
        if store is None:
            store = _open_log(self.settings)
            with self._lock:
                self._open.append(store)
                self.opened += 1
            self._local.store = store
        try:
            yield store
        except (UserError, sqlite3.Error):
            self._local.store = None
            with self._lock:
                if store in self._open:
                    self._open.remove(store)
            _close_quietly(store)
            raise

    def close(self) -> None:
        with self._lock:
            stores, self._open = self._open, []
        for store in stores:
            _close_quietly(store)


def _close_quietly(store: Store) -> None:
    try:
        store.close()
    except sqlite3.Error:
        pass


# --- the worker ----------------------------------------------------------------------------
class Worker:
    """Runs the engine for queued deliveries, in a thread of the receiver's process.

    `wake()` after each queued delivery; a short pause gathers a burst into one run. A run
    takes every queued order (also those a crashed receiver left) under the run lock; while
    cron holds it, the worker retries every `retry` seconds. An order whose delivery arrived
    while a run was already processing it is run once more, so a change made mid-run is
    not left for cron.
    """

    def __init__(self, settings: Settings, *, debounce: float = 0.05, retry: float = 0.5, max_backoff: float = 300):
        self.settings = settings
        self.debounce = debounce
        self.retry = retry
        self.max_backoff = max_backoff
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight: set[str] = set()
        self._again: set[str] = set()
        self._busy = False  # a pass is running or waiting to retry
        self._connectors: service.Connectors | None = None  # opened by the first pass, kept for the others
        self._thread = threading.Thread(target=self._loop, name="iexsync-webhook-worker", daemon=True)

    def start(self) -> None:
        self._wake.set()  # first look: deliveries a stopped or crashed receiver left queued
        self._thread.start()

    def stop(self, timeout: float = 30) -> bool:
        """Let the current run finish (up to `timeout`); False if it is still going."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        if self._connectors is not None:
            self._connectors.close()
            self._connectors = None
        return True

    def arriving(self, order_id: str) -> None:
        """Before a delivery is recorded: a run processing this order now may have read it
        before the change the delivery announces, so it is run again."""
        with self._lock:
            if order_id in self._inflight:
                self._again.add(order_id)
                self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def idle(self) -> bool:
        """No pass running or waiting to retry, and none asked for: what a test waits for
        instead of sleeping."""
        with self._lock:
            return not self._busy and not self._again and not self._wake.is_set()

    def _loop(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            self._wake.wait()
            if self._stopping.wait(self.debounce):
                break
            with self._lock:
                self._busy = True
                self._wake.clear()
            try:
                self._pass()
                backoff = 0.0
            except LockBusy:
                log.debug("another run holds the lock; retrying in %.1f s", self.retry)
                self._later(self.retry)
            except UserError as exc:
                backoff = min(max(backoff * 2, 5.0), self.max_backoff)
                log.error("webhook run failed: %s; the deliveries stay queued, retried in %.0f s "
                          "(and taken by the next iexsync sync)", redact(str(exc)), backoff)
                self._later(backoff)
            except Exception:  # a bug: keep receiving, leave the deliveries queued for cron
                backoff = min(max(backoff * 2, 5.0), self.max_backoff)
                log.exception("webhook run crashed; the deliveries stay queued, retried in %.0f s", backoff)
                self._later(backoff)
            finally:
                with self._lock:
                    self._busy = False

    def _later(self, seconds: float) -> None:
        if not self._stopping.wait(seconds):
            self._wake.set()

    def _pass(self) -> None:
        store = _open_log(self.settings)
        try:
            queued = store.queued_orders()
        finally:
            store.close()
        with self._lock:
            again, self._again = self._again, set()
            order_ids = list(dict.fromkeys([*queued, *sorted(again)]))
            self._inflight = set(order_ids)
        if not order_ids:
            with self._lock:
                self._inflight = set()
            return
        try:
            if self._connectors is None:
                self._connectors = service.Connectors(self.settings)
            result = service.sync(self.settings, order_ids=order_ids, forced=False, kept=self._connectors)
        except BaseException:
            with self._lock:
                self._again |= again  # queued ones stay queued in the log by themselves
            raise
        finally:
            with self._lock:
                self._inflight = set()
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.counts.items())) or "nothing new"
        log.info("run %s for order(s) %s: %s", result.run, ", ".join(order_ids), counts)
        for event in result.events:
            if event.outcome == "error":
                log.warning("order %s: %s", event.order, redact(event.message))


# --- the server ----------------------------------------------------------------------------
class WebhookServer:
    """waitress serving the Receiver, with the Worker beside it. `run()` blocks until
    `stop()` (from another thread or a signal handler); then in-flight requests are
    answered, the worker's current run finishes, and everything is closed."""

    def __init__(self, settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 max_body: int = DEFAULT_MAX_BODY, threads: int = 4, trusted_proxy: str | None = None):
        import waitress

        if max_body < 1:
            raise ConfigError([f"--max-body is {max_body}; it must be at least 1 byte"])
        self.settings = settings
        # Open (create, migrate) the log before anything can race for it, and fail now if it cannot be written.
        _open_log(settings).close()
        self.shop = service.open_shop(settings)
        try:
            webhook_source(self.shop, str(settings.shop["platform"])).check_webhooks()
        except BaseException:
            self.shop.close()
            raise
        self.worker = Worker(settings)
        self.app = Receiver(settings, self.shop, self.worker, max_body=max_body)
        self._map: dict[int, Any] = {}
        self._stop = threading.Event()
        proxy: dict[str, Any] = {}
        if trusted_proxy:
            proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": {"x-forwarded-for"},
                     "clear_untrusted_proxy_headers": True}
        try:
            self.server = waitress.create_server(
                self.app, map=self._map, host=host, port=port, threads=threads, ident="iexsync",
                # waitress answers 413 itself from Content-Length, before reading the body
                max_request_body_size=max_body + 1, asyncore_use_poll=True, **proxy,
            )
        except (OSError, ValueError) as exc:
            self.shop.close()
            raise TemporaryFailure(f"cannot listen on {host}:{port}: {getattr(exc, 'strerror', None) or exc}; stop what "
                                   "listens there or choose another --port") from None  # exit 75, not "an order failed"

    @property
    def address(self) -> tuple[str, int]:
        listen = getattr(self.server, "effective_listen", None)
        if listen:
            return str(listen[0][0]), int(listen[0][1])
        return str(self.server.effective_host), int(self.server.effective_port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/webhooks/{self.app.platform}"

    def run(self) -> None:
        from waitress import wasyncore

        # The worker computes in this process while deliveries arrive: a thread waiting for
        # the GIL gets it after at most this long (Python's default is 5 ms), so an answer
        # waits on the worker's Python code a fiftieth as long (measured: p99 about 2 ms less at 50/s).
        interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0001)
        self.worker.start()
        try:
            while not self._stop.is_set() and self._map:
                wasyncore.loop(timeout=0.2, use_poll=True, map=self._map, count=1)
        finally:
            try:
                self._shutdown()
            finally:
                sys.setswitchinterval(interval)

    def stop(self) -> None:
        self._stop.set()

    def _shutdown(self) -> None:
        from waitress import wasyncore
        from waitress.channel import HTTPChannel
        from waitress.server import BaseWSGIServer

        for dispatcher in list(self._map.values()):
            if isinstance(dispatcher, BaseWSGIServer):
                dispatcher.accepting = False  # no new connections; answer the ones in flight
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            isinstance(d, HTTPChannel) and (d.requests or d.total_outbufs_len) for d in list(self._map.values())
        ):
            wasyncore.loop(timeout=0.05, use_poll=True, map=self._map, count=1)
        self.server.task_dispatcher.shutdown(timeout=5)
        wasyncore.close_all(self._map)
        if not self.worker.stop(timeout=30):
            log.warning("the webhook run still going was left; the next iexsync sync finishes its orders")
        self.app.flush_rejections()
        self.app.close()
        self.shop.close()


def serve(settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_body: int = DEFAULT_MAX_BODY,
          threads: int = 4, trusted_proxy: str | None = None,
          on_listen: Callable[[WebhookServer], None] | None = None) -> None:
    """Receive until SIGTERM or SIGINT, then stop cleanly."""
    server = WebhookServer(settings, host=host, port=port, max_body=max_body, threads=threads,
                           trusted_proxy=trusted_proxy)
    previous = {}

    def stop(signum: int, frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        server.stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, stop)
    try:
        if on_listen:
            on_listen(server)
        server.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- registering the shop's webhooks ------------------------------------------------------
def register(settings: Settings, url: str) -> list[dict[str, Any]]:
    """Create the shop's order webhooks pointing at `url`, with the configured secret."""
    check_public_url(url, str(settings.shop["platform"]))
    shop = service.open_shop(settings)
    try:
        return webhook_source(shop, str(settings.shop["platform"])).register_webhooks(url)
    finally:
        shop.close()


def url_note(url: str, platform: str) -> str | None:
    """A word when the URL does not end the way the receiver's path does (a proxy may map it)."""
    path = urlsplit(url).path.rstrip("/")
    if not path.endswith(f"/webhooks/{platform}"):
        return (f"note: `iexsync webhook serve` answers at /webhooks/{platform}; make sure the proxy in front of it "
                f"passes {url} there")
    return None


def check_public_url(url: str, platform: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"--url {url} uses plain http: the shop would send every order in clear to it; use the https address "
            f"of the reverse proxy in front of `iexsync webhook serve` (e.g. https://{parts.hostname}/webhooks/{platform})"
        )
