"""A WSGI wrapper that holds chosen requests at a gate, for tests that need a run to stand
still at an exact spot (holding its lock, its claim, a write in flight) while something
else happens.

    gate = Gate(fake)                           # wraps any WSGI app (FakeEconomic, ...)
    gate.hold(lambda r: r["method"] == "POST")  # matching requests wait before the app acts
    with FakeServer(gate) as server: ...
    gate.wait_held(1)                           # until one request is waiting
    gate.release()                              # let everything through (the gate stays open)
    gate.after(lambda r: ..., action)           # run `action(request)` once the app has acted on a match

`hold` and `after` rules fire once each unless `times` says otherwise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

Request = dict[str, Any]  # method, path, query, body (bytes)


class Gate:
    def __init__(self, app: Callable[[dict, Callable], Iterable[bytes]]):
        self.app = app
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._holds: list[list[Any]] = []  # [predicate, times left]
        self._afters: list[list[Any]] = []  # [predicate, action, times left]
        self.held: list[Request] = []

    def hold(self, predicate: Callable[[Request], bool], times: int = 1) -> None:
        with self._lock:
            self._holds.append([predicate, times])
            self._open.clear()

    def after(self, predicate: Callable[[Request], bool], action: Callable[[Request], None], times: int = 1) -> None:
        with self._lock:
            self._afters.append([predicate, action, times])

    def release(self) -> None:
        with self._lock:
            self._holds.clear()
        self._open.set()

    def wait_held(self, count: int = 1, timeout: float = 60) -> bool:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.held) >= count:
                    return True
            time.sleep(0.01)
        return False

    def _match(self, rules: list[list[Any]], request: Request) -> list[Any] | None:
        with self._lock:
            for rule in rules:
                if rule[-1] > 0 and rule[0](request):
                    rule[-1] -= 1
                    return rule
        return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = {"method": environ["REQUEST_METHOD"], "path": environ.get("PATH_INFO", ""),
                   "query": environ.get("QUERY_STRING", ""), "body": body}
        if self._match(self._holds, request) is not None:
            with self._lock:
                self.held.append(request)
            self._open.wait(timeout=600)
        import io

        environ["wsgi.input"] = io.BytesIO(body)
        answer = list(self.app(environ, start_response))
        rule = self._match(self._afters, request)
        if rule is not None:
            rule[1](request)
        return answer
