"""The client-side rate limit holds as the server counts, even when requests reach the
server late and bunched: no 429 from a server enforcing the very limit we are given.

Counts only: the 429s the server answered, the requests it saw.
"""

from __future__ import annotations

import shutil
import threading
import time
from itertools import count

from iexsync import config, service
from iexsync.http import Client
from tests.fakes.economic import AGREEMENT_GRANT_TOKEN, APP_SECRET_TOKEN, FakeEconomic
from tests.fakes.server import FakeServer
from tests.test_economic_support import DEMO_ORDERS, write_economic_config

LIMIT = 10  # requests per second, enforced by the fake as a sliding one-second window


class LateArrivals:
    """In front of the fake: every third request reaches it 300 ms late, as a request
    does whose thread was let go but not scheduled, or which a network held back."""

    def __init__(self, app):
        self.app = app
        self.seen = count()

    def __call__(self, environ, start_response):
        if next(self.seen) % 3 == 0:
            time.sleep(0.3)
        return self.app(environ, start_response)


def test_late_arrivals_never_push_the_server_over_the_limit() -> None:
    fake = FakeEconomic(rate_limit=(LIMIT, 1.0))
    with FakeServer(LateArrivals(fake)) as server:
        client = Client(server.url, what="e-conomic", rate_limit=LIMIT, retries=0,
                        headers={"X-AppSecretToken": APP_SECRET_TOKEN, "X-AgreementGrantToken": AGREEMENT_GRANT_TOKEN})

        def work() -> None:
            for _ in range(6):
                client.request("GET", "self")

        threads = [threading.Thread(target=work) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
        with server._lock:  # noqa: SLF001
            statuses = [request.status for request in server.requests]
    assert len(statuses) == 36
    assert statuses.count(429) == 0


def test_runs_that_keep_their_connectors_share_one_rate_limit(tmp_path) -> None:
    """The webhook worker keeps one shop and one books (service.Connectors) for all its runs,
    so a run started a moment after the last counts that run's calls too, as the server
    does. Two runs back to back, each of more than LIMIT calls: not one 429. (Each run with
    connectors of its own starts its count afresh, and the server answers 429.)"""
    fake = FakeEconomic(rate_limit=(LIMIT, 1.0))
    with FakeServer(fake) as server:
        shutil.copytree(DEMO_ORDERS, tmp_path / "orders")
        settings = config.load(write_economic_config(tmp_path, server.url, {"rate_limit": LIMIT}))
        with service.Connectors(settings) as kept:
            for order_id in ("1001", "1002"):
                service.sync(settings, order_ids=[order_id], forced=False, kept=kept)
        with server._lock:  # noqa: SLF001
            statuses = [request.status for request in server.requests]
    assert len(statuses) > 2 * LIMIT
    assert statuses.count(429) == 0
    assert {d["references"]["other"] for d in fake.booked.values()} == {
        "iexsync:woocommerce:1001:invoice", "iexsync:woocommerce:1002:invoice"}
