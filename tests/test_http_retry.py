"""http.Client's write retry on 429: a refused write (not done) is sent again after the
server's Retry-After, only when the connector asks for it, with one cap for reads and
writes alike. Over real HTTP to a loopback server."""

from __future__ import annotations

import time

import pytest
import requests

from iexsync.http import MAX_RETRY_AFTER, Client
from tests.fakes.server import Fault, FakeServer, json_response


def app(environ, start_response):
    return json_response(start_response, 201, {"ok": True})


def refuse_first(count: int, retry_after: str | None = "0"):
    left = [count]

    def faults(request):
        if request.method == "POST" and left[0] > 0:
            left[0] -= 1
            return Fault("status", 429, b'{"message": "slow down"}', {"Retry-After": retry_after} if retry_after else {})
        return None

    return faults


@pytest.mark.parametrize("retries, refusals, statuses", [
    (0, 1, [429]),  # the default: a write is sent once, the connector decides
    (3, 2, [429, 429, 201]),
    (2, 5, [429, 429, 429]),  # gives up after its retries, with the 429 in hand
])
def test_a_write_refused_with_429_is_sent_again_only_when_asked(retries, refusals, statuses) -> None:
    with FakeServer(app, faults=refuse_first(refusals)) as server:
        client = Client(server.url, what="Test", write_retries_on_429=retries)
        assert client.request("POST", "things", json={"a": 1}).status_code == statuses[-1]
        assert [r.status for r in server.calls("POST")] == statuses


def test_the_wait_is_the_servers_retry_after() -> None:
    with FakeServer(app, faults=refuse_first(1, "1")) as server:
        client = Client(server.url, what="Test", write_retries_on_429=1)
        started = time.monotonic()
        assert client.request("POST", "things", json={}).status_code == 201
        assert time.monotonic() - started >= 1.0


def test_one_cap_for_every_retry_after() -> None:
    client = Client("http://127.0.0.1:9", what="Test", backoff=0.5)
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "600"  # WordPress's maintenance page asks for ten minutes
    assert client.retry_after(response, 0) == MAX_RETRY_AFTER
    assert client.retry.get_retry_after(response) == MAX_RETRY_AFTER  # the reads' urllib3 Retry: the same cap
    del response.headers["Retry-After"]
    assert [client.retry_after(response, n) for n in (0, 1, 2)] == [0.5, 1.0, 2.0]


def test_a_5xx_on_a_write_is_never_sent_again() -> None:
    with FakeServer(app, faults=lambda r: Fault("status", 503) if r.method == "POST" else None) as server:
        client = Client(server.url, what="Test", write_retries_on_429=3)
        assert client.request("POST", "things", json={}).status_code == 503
        assert len(server.calls("POST")) == 1
