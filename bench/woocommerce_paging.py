"""Figure 6: source paging. Pulling 10,000 WooCommerce orders (1,000 with --quick).

`WooCommerceShop.changed_orders` pulls every order of a fake shop (tests/fakes/woocommerce.py,
served by a child process so that its own memory is not counted), in this process:

- list calls ÷ ceil(orders / 100): the issue asks for exactly ceil(N / 100) list calls
  (goal 1.0). The pager freezes the list (modified_before) and starts each page right after
  the last order read; X-WP-Total tells it when orders left before its position, and only
  then does it step back (one extra call). Nothing changes during this pull, so the bound
  is met exactly. Refunds are not read while listing (the engine asks for them only for
  refunds not credited yet), so the pull makes list calls and nothing else.
- peak memory (tracemalloc) of the 10,000-order pull ÷ that of pulling the newest 100:
  a pager that streams page by page peaks at about one page either way (goal 1.5). This
  is the check the standalone benchmark made; `--keep` (standalone only) collects the
  orders instead, the control that shows the measurement sees growth.
- Shopify: there is no Shopify connector yet, so "stays under its cost limit without a
  THROTTLED answer" is not applicable (noted, no figure).

Standalone: python bench/woocommerce_paging.py [--orders 10000] [--small 100] [--bound 1.5] [--keep]
"""

from __future__ import annotations

import argparse
import gc
import math
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

FIRST_MODIFIED = datetime(2026, 1, 1, tzinfo=timezone.utc)  # the fake's orders: modified one second apart from here
PER_PAGE = 100


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


def newest_since(total: int, count: int) -> datetime:
    """The `since` that selects the newest `count` of the fake's `total` orders."""
    return FIRST_MODIFIED + timedelta(seconds=total - count)


def measure(total: int, small: int, keep: bool = False) -> dict:
    """Pull the newest `small`, then all `total` orders; what each cost."""
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(total)], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url, key, secret = child.stdout.readline().split()  # type: ignore[union-attr]
        from iexsync.shops.woocommerce import WooCommerceShop

        shop = WooCommerceShop(url, key, secret)
        calls: Counter[str] = Counter()
        request = shop.client.request

        def counted(method, path, **kwargs):  # what the shop asks for, by kind
            calls["refunds" if path.endswith("/refunds") else "list" if path == "orders" else path] += 1
            return request(method, path, **kwargs)

        shop.client.request = counted
        tracemalloc.start()
        pull(shop, newest_since(total, 3))  # warm-up: imports, connection pool, caches
        small_pull = pull(shop, newest_since(total, small), keep)
        calls.clear()
        large_pull = pull(shop, None, keep)
        tracemalloc.stop()
        shop.close()
    finally:
        child.stdin.close()  # type: ignore[union-attr]
        child.wait(timeout=30)
    return {"small": small_pull, "large": large_pull, "calls": calls}


def run(quick: bool) -> list:
    from bench.common import Figure, note

    total = 1_000 if quick else 10_000
    result = measure(total, 100)
    orders = result["large"][0]
    if orders != total or result["small"][0] != 100:
        raise RuntimeError(f"pulled {orders} of {total} orders and {result['small'][0]} of the newest 100")
    calls = result["calls"]
    note(f"the {total:,}-order pull: {calls['list']} list calls (ceil(N/100) = {math.ceil(total / PER_PAGE)}), "
         f"{calls['refunds']} refund reads, {sum(calls.values()) - calls['list'] - calls['refunds']} other "
         f"in {result['large'][2]:.1f} s")
    note("Shopify: no Shopify connector yet: its cost limit / THROTTLED figure is not applicable")
    return [
        Figure(f"WooCommerce list calls for {total:,} orders ÷ ceil(N / 100)", calls["list"],
               math.ceil(total / PER_PAGE), 1.0, "calls"),
        Figure(f"WooCommerce pull, peak traced memory: {total:,} orders ÷ the newest 100", result["large"][3] / 1e6,
               result["small"][3] / 1e6, 1.5, "MB"),
    ]


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
    result = measure(args.orders, args.small, args.keep)
    small, large = result["small"], result["large"]
    ratio = large[3] / small[3]
    for name, (orders, lines, seconds, peak) in (("small", small), ("large", large)):
        print(f"{name}: {orders:>6} orders, {lines:>6} lines in {seconds:6.2f} s "
              f"({orders / seconds:7.0f} orders/s), peak {peak / 1e6:6.2f} MB")
    print(f"requests for the large pull: {dict(result['calls'])}")
    verdict = "PASS" if ratio <= args.bound and large[0] == args.orders and small[0] == args.small else "FAIL"
    print(f"peak ratio {args.orders} vs {args.small} orders: {ratio:.2f} (bound {args.bound}) {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
