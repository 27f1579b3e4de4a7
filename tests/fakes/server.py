"""Serve a fake vendor API (a WSGI app) on a loopback port in a background thread.

Shared by every fake: records each request, can add latency, and can inject faults
(connection reset after the request was read, a hang, an error status) through a
`faults` callable that sees each request. The fakes themselves hold the vendor's
behaviour; this module only carries bytes.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Fault:
    """What to do to one request instead of (or after) serving it."""

    kind: str  # "reset_before" | "reset_after" | "hang" | "status"
    status: int = 503
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a connection a fault cut on purpose is not news


class _Quiet(WSGIRequestHandler):
    """No access log, no tracebacks for the connections a fault cut on purpose."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def get_stderr(self) -> io.StringIO:
        return io.StringIO()

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ["iexsync.socket"] = self.connection
        return environ


class _Reset(Exception):
    pass


class FakeServer:
    """Run `app(environ, start_response)` on 127.0.0.1:<free port>."""

    def __init__(
        self,
        app: Callable[[dict, Callable], Iterable[bytes]],
        *,
        latency: float = 0.0,
        faults: Callable[[Recorded], Fault | None] | None = None,
    ):
        self.app = app
        self.latency = latency
        self.faults = faults
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, server_class=_Server, handler_class=_Quiet)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[Recorded]:
        with self._lock:
            return [
                r for r in self.requests
                if (method is None or r.method == method) and r.path.startswith(path_prefix)
            ]

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        record = Recorded(
            method=environ["REQUEST_METHOD"],
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            headers={k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")},
            body=body,
        )
        if environ.get("CONTENT_TYPE"):
            record.headers["Content-Type"] = environ["CONTENT_TYPE"]
        with self._lock:
            self.requests.append(record)
        if self.latency:
            time.sleep(self.latency)
        fault = self.faults(record) if self.faults else None
        try:
            return self._serve(environ, start_response, record, body, fault)
        except _Reset:
            return []

    def _serve(self, environ: dict, start_response: Callable, record: Recorded, body: bytes, fault: Fault | None) -> Iterable[bytes]:
        if fault and fault.kind == "reset_before":
            _reset(environ)
        if fault and fault.kind == "hang":
            time.sleep(3600)
        if fault and fault.kind == "status":
            record.status = fault.status
            start_response(f"{fault.status} Fault", [("Content-Type", "application/json"), *fault.headers.items()])
            return [fault.body]
        environ["wsgi.input"] = _Replay(body)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        chunks = b"".join(self.app(environ, capture))
        record.status = int(captured["status"].split()[0])
        if fault and fault.kind == "reset_after":
            _reset(environ)  # the app acted; the client never hears of it
        start_response(captured["status"], captured["headers"])
        return [chunks]


class _Replay:
    def __init__(self, body: bytes):
        self._body = body
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._body) if size < 0 else self._pos + size
        chunk = self._body[self._pos:end]
        self._pos += len(chunk)
        return chunk


def _reset(environ: dict) -> None:
    """Cut the connection without an answer: what a crashed proxy or a dropped link looks like."""
    sock = environ.get("iexsync.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise _Reset()


def json_response(start_response: Callable, status: int, payload: Any, headers: dict[str, str] | None = None) -> list[bytes]:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
              403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
    start_response(
        f"{status} {reason.get(status, 'Status')}",
        [("Content-Type", "application/json; charset=UTF-8"), ("Content-Length", str(len(body))), *(headers or {}).items()],
    )
    return [body]
