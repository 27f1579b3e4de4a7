"""Figure 2: throughput under the APIs' latency and rate limits.

2,000 new orders (100 with --quick) go from the fake WooCommerce to the fake e-conomic
through one real `iexsync sync` process, in steady state (a warm-up run has transferred 8
orders of the same customers first). Every request to either fake waits 25 ms (FakeServer
latency), and each API's rate limit is enforced by its fake:

- e-conomic publishes no per-second limit (fair use: 50,000 calls a day per agreement; a
  token bucket answering 429 is being rolled out without published numbers). We assume
  ECONOMIC_RATE = 50 requests per second per agreement, a sliding one-second window, and
  the fake answers 429 with Retry-After past it. iexsync is told accounting.rate_limit:
  50, the limit itself: its limiter counts a request until a second after its answer, so
  what reaches the server stays within the limit however late a request leaves (the
  best this figure can show is then about (1 s + one answer's time) ÷ 1 s, 1.03, plus
  the process's start-up).
- WooCommerce core has no rate limit (only hosts and plugins add one): none.

The bound is the physical limit: the calls the transfer needs (bench.servers:
minimum_economic_calls; for WooCommerce ceil(orders / 100) list pages plus one refund read
per order with refunds), each API taking them as fast as its limits allow:
    for each API: max(calls ÷ rate, calls × latency ÷ concurrency)
(an API with no published limit allows any concurrency), the slowest API, plus one
latency for the first list page. e-conomic at 50/s is the slowest here. Goal: wall time
÷ bound ≤ 1.10, and no 429 at all (a second figure: 429 answers ÷ calls, goal 0).

transfer.workers is left at iexsync's default (BENCH_WORKERS=N sets it, e.g. 1 for the
sequential engine); without the key (an iexsync before the worker pool) runs are sequential.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import servers
from bench.common import Figure, note

LATENCY = 0.025
WOO_PAGE = 100


def bound(apis: dict[str, tuple[int, float | None, int | None]], latency: float) -> float:
    """apis: name → (calls, rate per second or None, concurrency or None)."""
    slowest = 0.0
    for calls, rate, concurrency in apis.values():
        by_rate = calls / rate if rate else 0.0
        by_concurrency = calls * latency / concurrency if concurrency else 0.0
        slowest = max(slowest, by_rate, by_concurrency)
    return slowest + latency


def run(quick: bool) -> list[Figure]:
    orders = 100 if quick else 2000
    workers = os.environ.get("BENCH_WORKERS")
    transfer: dict = {}
    if servers.has_config_key("transfer", "workers"):
        if workers:
            transfer["workers"] = int(workers)
        from iexsync import config

        default = config.full_schema()["properties"]["transfer"]["properties"]["workers"].get("default")
        shown = f"workers {transfer.get('workers', default)}"
    else:
        shown = "sequential: no transfer.workers"
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-throughput-", dir=base))
    try:
        shop = servers.new_shop()
        books = servers.new_books(rate_limit=(servers.ECONOMIC_RATE, 1.0))
        with shop.serve(latency=LATENCY) as shop_server, books.serve(latency=LATENCY) as books_server:
            config_path = servers.write_config(
                folder, servers.shop_section(shop_server),
                servers.books_section(books_server, rate_limit=servers.ECONOMIC_CLIENT_RATE), transfer)
            long_ago = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
            warm = shop.generate(8, first_id=10_000, modified_from=long_ago)
            warm_up = servers.run_iexsync(["sync", "--config", str(config_path)])
            if warm_up.returncode != 0:
                raise RuntimeError(f"warm-up run exited {warm_up.returncode}: {warm_up.stderr[-800:]}")

            ids = shop.generate(orders, first_id=warm[-1] + 3)
            economic_before, shop_before = servers.economic_calls(books), servers.shop_calls(shop_server)
            mark_e, mark_w = len(books_server.requests), len(shop_server.requests)
            run = servers.run_iexsync(["sync", "--config", str(config_path)])
            if run.returncode != 0:
                raise RuntimeError(f"iexsync sync exited {run.returncode}: {run.stderr[-800:]}")
            economic_made = sum((servers.economic_calls(books) - economic_before).values())
            shop_made = sum((servers.shop_calls(shop_server) - shop_before).values())
            refused = sum(1 for r in books_server.requests[mark_e:] + shop_server.requests[mark_w:] if r.status == 429)

            economic_needed = servers.minimum_economic_calls(shop, ids)
            shop_needed = math.ceil(orders / WOO_PAGE) + servers.orders_with_refunds(shop, ids)
            limit = bound({"e-conomic": (economic_needed, servers.ECONOMIC_RATE, None),
                           "WooCommerce": (shop_needed, None, None)}, LATENCY)
            note(f"{shown}; e-conomic: {economic_made} calls made, {economic_needed} needed, "
                 f"{economic_made / run.seconds:.1f}/s achieved (limit {servers.ECONOMIC_RATE}/s); "
                 f"WooCommerce: {shop_made} calls made, {shop_needed} needed")
            return [
                Figure(f"throughput, {orders:,} orders, 25 ms latency, e-conomic {servers.ECONOMIC_RATE}/s ({shown})",
                       run.seconds, limit, 1.10),
                Figure("429 answers ÷ calls in that run (both APIs)", refused, economic_made + shop_made, 0.0, "calls"),
            ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
