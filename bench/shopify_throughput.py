"""Shopify: 1,000 orders (200 with --quick, the bucket refilling four times as fast) pulled through the fake's cost limit.

`ShopifyShop.changed_orders` pulls every order of a fake Shopify (tests/fakes/shopify.py,
served by a child process) whose leaky bucket holds `maximum` points and restores `restore`
a second; every query is validated against the vendored schema and costed by Shopify's
documented rule, so a page of full orders asks ~940 points while keeping only what it
returns. Every 40th answer is THROTTLED regardless (another app draining the same bucket).

- exactly once: every order is yielded once (goal: N distinct of N yielded);
- no THROTTLED surfaces: the pull ends without an error (the connector waits and retries);
- time ÷ the bucket's bound: the actual cost the fake kept, less the full bucket it starts
  with, divided by the restore rate, is the least time Shopify would allow (goal ≤ 1.25).

Standalone: python bench/shopify_throughput.py [--orders 1000] [--restore 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MAXIMUM = 2000.0  # the bucket the 2026 captures show
THROTTLE_EVERY = 40


def serve(count: int, restore: float) -> None:
    """Child process: a fake Shopify with `count` orders; prints its URL, serves until stdin
    closes, then prints what it counted (JSON)."""
    from tests.fakes.shopify import FakeShopify, ShopifyServer, schema

    schema()
    fake = FakeShopify(maximum=MAXIMUM, restore_rate=restore)
    fake.generate(count, same_second=5)
    answered = [0]
    app = fake.app

    def drained(environ, start_response):  # another app of the shop takes the bucket now and then
        answered[0] += 1
        if answered[0] % THROTTLE_EVERY == 0:
            fake.fail_next("THROTTLED")
        return app(environ, start_response)

    fake.app = drained  # type: ignore[method-assign]
    with ShopifyServer() as server:
        server.use(fake)
        print(server.url, fake.token, flush=True)
        sys.stdin.read()
        print(json.dumps({"throttled": fake.throttled, "spent": fake.spent, "requests": answered[0]}), flush=True)


def measure(count: int, restore: float) -> dict:
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(count), "--restore", str(restore)], cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url, token = child.stdout.readline().split()  # type: ignore[union-attr]
        from iexsync.shops.shopify import ShopifyShop
        from iexsync.shops.shopify.config import ShopifySettings

        shop = ShopifyShop(ShopifySettings(url, token, page_size=250))
        started = time.perf_counter()
        ids = [order.order_id for order in shop.changed_orders(None)]
        seconds = time.perf_counter() - started
        retried = shop.client.throttled
        shop.close()
        child.stdin.close()  # type: ignore[union-attr]
        counted = json.loads(child.stdout.readline())  # type: ignore[union-attr]
    finally:
        if child.stdin and not child.stdin.closed:
            child.stdin.close()
        child.wait(timeout=30)
    bound = max(0.0, counted["spent"] - MAXIMUM) / restore
    return {"ids": ids, "seconds": seconds, "bound": bound, "retried": retried, **counted}


def run(quick: bool) -> list:
    from bench.common import Figure, note

    count = 200 if quick else 1_000
    restore = 2000.0 if quick else 500.0  # --quick: the bucket refills four times as fast
    result = measure(count, restore)
    distinct = len(set(result["ids"]))
    if distinct != count or len(result["ids"]) != count:
        raise RuntimeError(f"pulled {len(result['ids'])} orders ({distinct} distinct) of {count}")
    note(f"{count:,} orders in {result['requests']} requests; the fake answered THROTTLED {result['throttled']} times "
         f"(every {THROTTLE_EVERY}th answer by design), each waited out and retried ({result['retried']}), none surfaced; "
         f"{result['spent']:.0f} points kept at {restore:.0f}/s from a full bucket of {MAXIMUM:.0f}")
    return [
        Figure(f"Shopify pull, {count:,} orders: time ÷ (points kept − bucket) / restore rate", result["seconds"],
               result["bound"], 1.25, "s"),
        Figure(f"Shopify pull, {count:,} orders: orders yielded ÷ distinct", len(result["ids"]), distinct, 1.0, "orders"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000)
    parser.add_argument("--restore", type=float, default=500.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.restore)
        return 0
    result = measure(200 if args.quick else args.orders, args.restore)
    ratio = result["seconds"] / result["bound"] if result["bound"] else float("inf")
    print(f"{len(result['ids'])} orders ({len(set(result['ids']))} distinct) in {result['seconds']:.1f} s; "
          f"bound {result['bound']:.1f} s; ratio {ratio:.2f}; THROTTLED answered {result['throttled']}, "
          f"retried {result['retried']}")
    return 0 if ratio <= 1.25 and len(set(result["ids"])) == len(result["ids"]) else 1


if __name__ == "__main__":
    sys.exit(main())
