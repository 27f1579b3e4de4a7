"""Benchmark: pulling 10,000 WooCommerce orders holds memory flat.

Pulls the orders changed in a fake shop (tests/fakes/woocommerce.py, served by a child
process so its own memory is not counted) through `WooCommerceShop.changed_orders`,
once for the newest 100 orders and once for all 10,000, and compares the peak memory the
pulling process allocated (tracemalloc) in each. A connector that streams page by page
peaks at about one page either way; one that collects the orders grows with their number.

    python bench/woocommerce_paging.py [--orders 10000] [--small 100] [--bound 1.5]

Prints both peaks, their ratio and PASS/FAIL against the bound; exits 1 on FAIL.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FIRST_MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the fake's orders: modified one second apart from here


def serve(count: int) -> None:
    """Child process: a fake shop with `count` orders; prints its URL, serves until stdin closes."""
    from tests.fakes.woocommerce import FakeWooCommerce

    fake = FakeWooCommerce()
    fake.generate(count, modified_from=FIRST_MODIFIED)
    with fake.serve() as server:
        print(server.url, fake.consumer_key, fake.consumer_secret, flush=True)
        sys.stdin.read()


def pull(shop, since, keep: bool = False) -> tuple[int, int, float, int]:
    """(orders, lines, seconds, peak bytes) for one pass; each order is read and dropped
    (or, with `keep`, collected: the control that shows the benchmark sees growth)."""
    gc.collect()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    orders = lines = 0
    kept = []
    for order in shop.changed_orders(since):
        orders += 1
        lines += len(order.lines)
        if keep:
            kept.append(order)
    seconds = time.perf_counter() - started
    return orders, lines, seconds, tracemalloc.get_traced_memory()[1] - base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--bound", type=float, default=1.5, help="largest acceptable peak ratio (large / small)")
    parser.add_argument("--keep", action="store_true", help="control run: keep every order (must FAIL)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    child = subprocess.Popen([sys.executable, __file__, "--serve", str(args.orders)], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url, key, secret = child.stdout.readline().split()  # type: ignore[union-attr]
        from iexsync.shops.woocommerce import WooCommerceShop

        shop = WooCommerceShop(url, key, secret)
        tracemalloc.start()
        pull(shop, newest_since(args.orders, 3))  # warm-up: imports, connection pool, caches
        small = pull(shop, newest_since(args.orders, args.small), args.keep)
        calls_before = shop.client.calls
        large = pull(shop, None, args.keep)
        large_calls = shop.client.calls - calls_before
        tracemalloc.stop()
        shop.close()
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=10)

    ratio = large[3] / small[3]
    for name, (orders, lines, seconds, peak) in (("small", small), ("large", large)):
        print(f"{name}: {orders:>6} orders, {lines:>6} lines in {seconds:6.2f} s "
              f"({orders / seconds:7.0f} orders/s), peak {peak / 1e6:6.2f} MB")
    print(f"requests for the large pull: {large_calls} (list pages and refunds)")
    verdict = "PASS" if ratio <= args.bound and large[0] == args.orders and small[0] == args.small else "FAIL"
    print(f"peak ratio {args.orders} vs {args.small} orders: {ratio:.2f} (bound {args.bound}) {verdict}")
    return 0 if verdict == "PASS" else 1


def newest_since(total: int, count: int) -> datetime:
    """The `since` that selects the newest `count` of the fake's `total` orders."""
    return FIRST_MODIFIED + timedelta(seconds=total - count)


if __name__ == "__main__":
    sys.exit(main())
