"""A fault-injecting HTTP proxy on loopback, between iexsync and any fake vendor API.

    with FakeEconomic().serve() as server, FaultyProxy(server.url, RandomFaults(0.3, seed=1)) as proxy:
        ... point the config's URL at proxy.url ...

It reads each request whole, asks its `policy` what to do, and then does it to real bytes
on a real socket — so the client sees exactly what a flaky network, a gateway or a proxy
that gives up would show it:

| fault            | forwarded? | what the client gets                                        |
| ---------------- | ---------- | ----------------------------------------------------------- |
| reset_before     | no         | the connection reset (RST) without an answer                 |
| reset_after      | yes        | the upstream acted; the connection reset, no answer          |
| timeout_before   | no         | silence for `hold` seconds, then the connection closed       |
| timeout_after    | yes        | the upstream acted; silence for `hold` seconds, then close   |
| status_429       | no         | 429 Too Many Requests with Retry-After (`retry_after`)       |
| status_502       | no         | 502 Bad Gateway (an HTML page, as nginx sends it)            |
| status_503_after | yes        | the upstream acted; 503 from a gateway that stopped waiting  |
| truncated        | yes        | the upstream acted; its headers and half its body, then close |
| truncated_json   | yes        | the upstream acted; half its body, Content-Length to match  |

"Forwarded" faults are the dangerous ones for a writer: the write happened and the
client cannot know. Every exchange is recorded (`exchanges`), with the fault, whether it
reached the upstream, and the upstream's status, so a test can check afterwards what the
client did next (e.g. that a lookup came before any second write of the same document).
Nothing here knows a vendor; `reference_of` helpers for e-conomic live in the tests.
"""

from __future__ import annotations

import random
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

FAULTS = (
    "reset_before", "reset_after", "timeout_before", "timeout_after", "status_429", "status_502",
    "status_503_after", "truncated", "truncated_json",
)
FORWARDED = frozenset({"reset_after", "timeout_after", "status_503_after", "truncated", "truncated_json"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Exchange:
    """One request through the proxy and what became of it."""

    seq: int
    method: str
    path: str  # without the query
    query: str
    body: bytes
    fault: str | None = None  # one of FAULTS, or None for a clean pass
    forwarded: bool = False  # whether the upstream received it (and so may have acted)
    upstream_status: int = 0  # the upstream's answer (0: not forwarded, or it failed)
    started: float = 0.0
    finished: float = 0.0

    @property
    def clean(self) -> bool:
        """The client got the upstream's answer, unchanged."""
        return self.fault is None and self.forwarded


Policy = Callable[[Exchange], "str | None"]


class RandomFaults:
    """A seeded policy: each request gets a fault with probability `rate` (writes) or
    `read_rate` (reads), the kind drawn evenly from `kinds` (`read_kinds` for reads)."""

    def __init__(self, rate: float, *, read_rate: float = 0.0, kinds: Iterable[str] = FAULTS,
                 read_kinds: Iterable[str] | None = None, seed: int = 0, only: Callable[[Exchange], bool] | None = None):
        self.rate, self.read_rate = rate, read_rate
        self.kinds = tuple(kinds)
        self.read_kinds = tuple(read_kinds if read_kinds is not None else self.kinds)
        self.only = only
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        unknown = set(self.kinds + self.read_kinds) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")

    def __call__(self, exchange: Exchange) -> str | None:
        if self.only is not None and not self.only(exchange):
            return None
        write = exchange.method in WRITES
        with self.lock:
            if self.random.random() >= (self.rate if write else self.read_rate):
                return None
            return self.random.choice(self.kinds if write else self.read_kinds)


class FaultyProxy:
    """Forward HTTP/1.x requests from 127.0.0.1:<port> to `upstream`, injecting faults."""

    def __init__(self, upstream: str, policy: Policy | None = None, *, hold: float = 2.0, retry_after: str = "0"):
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.policy = policy
        self.hold = hold
        self.retry_after = retry_after
        self.exchanges: list[Exchange] = []
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that went away (killed, timed out) is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> "FaultyProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    # --- what happened --------------------------------------------------------------------
    def faults(self) -> Counter[str]:
        with self.lock:
            return Counter(e.fault for e in self.exchanges if e.fault)

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[Exchange]:
        with self.lock:
            return [e for e in self.exchanges if (method is None or e.method == method) and e.path.startswith(path_prefix)]

    # --- one connection -------------------------------------------------------------------
    def _handle(self, client: socket.socket) -> None:
        client.settimeout(30)
        try:
            head, body = _read_message(client, request=True)
        except (OSError, ValueError):
            return
        if head is None:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = (request_line.split(" ", 2) + ["", ""])[:3]
        path, _, query = target.partition("?")
        with self.lock:
            exchange = Exchange(len(self.exchanges) + 1, method, path, query, body, started=time.monotonic())
            self.exchanges.append(exchange)
        fault = self.policy(exchange) if self.policy else None
        exchange.fault = fault
        try:
            self._serve(client, exchange, head, body, fault)
        except OSError:
            pass
        finally:
            exchange.finished = time.monotonic()
            try:
                client.close()
            except OSError:
                pass

    def _serve(self, client: socket.socket, exchange: Exchange, head: bytes, body: bytes, fault: str | None) -> None:
        if fault == "reset_before":
            return _reset(client)
        if fault == "timeout_before":
            return self._silence(client)
        if fault == "status_429":
            return client.sendall(_response(429, "Too Many Requests", b'{"message":"Too many requests."}',
                                            {"Retry-After": self.retry_after, "Content-Type": "application/json"}))
        if fault == "status_502":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
            return client.sendall(_response(502, "Bad Gateway", page, {"Content-Type": "text/html"}))
        answer = self._forward(exchange, head, body)
        if answer is None:  # the upstream itself failed: what a gateway says then
            return client.sendall(_response(502, "Bad Gateway", b"upstream failed", {"Content-Type": "text/plain"}))
        if fault == "reset_after":
            return _reset(client)
        if fault == "timeout_after":
            return self._silence(client)
        if fault == "status_503_after":
            return client.sendall(_response(503, "Service Unavailable", b'{"message":"The gateway gave up waiting."}',
                                            {"Content-Type": "application/json", "Retry-After": self.retry_after}))
        answer_head, answer_body = answer
        if fault == "truncated":
            client.sendall(answer_head + answer_body[: len(answer_body) // 2])
            return _reset(client)
        if fault == "truncated_json":
            cut = answer_body[: len(answer_body) // 2]
            return client.sendall(_with_length(answer_head, len(cut)) + cut)
        client.sendall(answer_head + answer_body)

    def _forward(self, exchange: Exchange, head: bytes, body: bytes) -> tuple[bytes, bytes] | None:
        exchange.forwarded = True
        try:
            with socket.create_connection(self.upstream, timeout=60) as upstream:
                upstream.sendall(_close_connection(head) + body)
                answer_head, answer_body = _read_message(upstream, request=False)
        except (OSError, ValueError):
            return None
        if answer_head is None:
            return None
        try:
            exchange.upstream_status = int(answer_head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            exchange.upstream_status = -1
        return _close_connection(answer_head), answer_body

    def _silence(self, client: socket.socket) -> None:
        """Say nothing until the client gives up (or `hold` passes), then close."""
        deadline = time.monotonic() + self.hold
        client.settimeout(0.05)
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                if client.recv(1) == b"":
                    return  # the client hung up: its timeout fired
            except socket.timeout:
                continue
            except OSError:
                return


# --- bytes ---------------------------------------------------------------------------------
def _read_message(sock: socket.socket, *, request: bool) -> tuple[bytes | None, bytes]:
    """One HTTP message: its head (through the blank line) and its body (Content-Length,
    chunked, or — for a response without either — everything until the peer closes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return (None, b"") if not data else (data, b"")
        data += chunk
        if len(data) > 1 << 20:
            raise ValueError("head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    head += b"\r\n\r\n"
    headers = _headers(head)
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return head, rest[:length]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return _dechunk(head), _unchunk(rest)
    if request:
        return head, b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return head, rest
        rest += chunk


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    result = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            result[name.strip().lower()] = value.strip()
    return result


def _unchunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2:]
    return out


def _dechunk(head: bytes) -> bytes:
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(b"transfer-encoding:")]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _close_connection(head: bytes) -> bytes:
    """The same head, saying Connection: close (one exchange per connection, both sides)."""
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith((b"connection:", b"keep-alive:"))]
    return b"\r\n".join(lines + [b"Connection: close"]) + b"\r\n\r\n"


def _with_length(head: bytes, length: int) -> bytes:
    lines = [l for l in head.split(b"\r\n") if l and not l.lower().startswith(b"content-length:")]
    return b"\r\n".join(lines + [f"Content-Length: {length}".encode()]) + b"\r\n\r\n"


def _response(status: int, reason: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _reset(sock: socket.socket) -> None:
    """Close with RST, not FIN: what a crashed proxy or a dropped link looks like."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
