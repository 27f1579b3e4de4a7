"""Figure 1: remote calls per order against fake e-conomic ÷ the fewest the API needs.

The minimum (bench.servers.minimum_economic_calls): one create per document and one more
to book an invoice; a refund is a credit note, created and booked (2). Customers and
products that e-conomic already holds cost nothing in the minimum.

Three runs of the real `iexsync sync` (fake WooCommerce → fake e-conomic, no latency: only
calls are counted here), one process each:

- steady state: a warm-up run transfers 8 orders (so e-conomic holds the customers and
  products, and the log holds transfers); then a new run transfers a batch of new orders
  from the same customers. Every e-conomic call of that run counts, including any
  lookup of the (known) customers and products: a new process (cron starts one every 5
  minutes) knows only what the log remembers from earlier runs. Goal ≤ 1.05.
- a cron-sized batch (reported, no goal): 20 new orders from returning customers in a
  new run, what a small shop's 5-minute cron run looks like. A lookup per run of the
  known customers and products, amortised in the big batch, would show here.
- first-time customers and products: a batch whose buyers (two orders each) and SKUs
  e-conomic has never seen. Counts the calls about those customers and products only:
  at most one lookup and one create each, never repeated in the run, so the bound is
  2 per customer and 2 per product and the goal is ≤ 1.0.
- fresh log: a new, empty log transfers 1,000 new orders (100 with --quick) for known
  customers. A log without transfers may be a lost one, so every reference is looked up
  before it is written: in bulk, one listing of the documents iexsync made per e-conomic
  collection (iexsync/references.py), where one filtered search per document made this
  3.5 × the minimum. The customers and products are looked up once (the fresh log does
  not remember them). Goal ≤ 1.1.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

from bench import servers
from bench.common import Figure, note

WARM_UP = 8  # two orders of each example: every customer and product the batches use
CRON_BATCH = 20  # five of each example


def _scratch() -> Path:
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None  # tmpfs: SQLite's fsyncs cost nothing
    return Path(tempfile.mkdtemp(prefix="iexsync-bench-calls-", dir=base))


def _sync(config: Path) -> None:
    run = servers.run_iexsync(["sync", "--config", str(config)])
    if run.returncode != 0:
        raise RuntimeError(f"iexsync sync exited {run.returncode}: {(run.stderr or run.stdout)[-800:]}")


def _first_time_batch(shop: servers.FakeWooCommerce, count: int, first_id: int, tag: str) -> tuple[list[int], set, set]:
    """`count` orders whose buyers and SKUs are new: orders i and i+4 (same example, so the
    same state) share a buyer and SKUs. Returns the ids and the customers and products
    the transfer needs (those of orders in an allowed state)."""
    ids = shop.generate(count, first_id=first_id)
    customers, products = set(), set()
    for index, order_id in enumerate(ids):
        raw = shop.order_json(order_id)
        refunds = shop.refunds_json(order_id)
        key = f"{index // 8}-{index % 4}"
        raw["billing"]["email"] = f"first.time.{tag.lower()}.{key}@example.com"
        for line, item in enumerate(raw["line_items"]):
            item["sku"] = f"NEW{tag}{key}-{line}"
        shop.add_order(raw, refunds=refunds)
        if raw["status"] in servers.TRANSFER["allowed_states"]:
            customers.add(raw["billing"]["email"])
            products.update(item["sku"] for item in raw["line_items"])
    return ids, customers, products


def _entity_calls(requests: list, tag: str) -> Counter:
    """Calls about the batch's new customers and products: (kind, entity) → count."""
    counted: Counter = Counter()
    for request in requests:
        query = unquote(request.query).lower()  # iexsync looks e-mails up in lower case
        if request.path == "/customers" and request.method == "GET" and f"first.time.{tag.lower()}." in query:
            counted[("customer lookup", query.split("$eq:", 1)[-1].split("&")[0])] += 1
        elif request.path == "/customers" and request.method == "POST":
            counted[("customer create", str(request.json().get("email", "")).lower())] += 1
        elif request.path.startswith(f"/products/NEW{tag}") and request.method == "GET":
            counted[("product lookup", request.path.split("/")[-1])] += 1
        elif request.path == "/products" and request.method == "POST" and str(request.json().get("productNumber", "")).startswith(f"NEW{tag}"):
            counted[("product create", request.json()["productNumber"])] += 1
    return counted


def _extra(delta: Counter, expected_writes: int) -> str:
    writes = sum(n for route, n in delta.items() if not route.startswith("GET"))
    reads = {route: n for route, n in delta.items() if route.startswith("GET")}
    return f"writes {writes} (needed {expected_writes}); reads {sum(reads.values())}: " + ", ".join(
        f"{route} {n}" for route, n in sorted(reads.items(), key=lambda kv: -kv[1]))


def _calls_of_a_run(name: str, goal: float | None, config: Path, books: servers.FakeEconomic,
                    shop: servers.FakeWooCommerce, ids: list[int]) -> Figure:
    """One `iexsync sync` of the orders `ids`: its e-conomic calls ÷ the fewest they need."""
    before = servers.economic_calls(books)
    _sync(config)
    delta = servers.economic_calls(books) - before
    needed = servers.minimum_economic_calls(shop, ids)
    note(_extra(delta, needed))
    return Figure(name, sum(delta.values()), needed, goal, "calls")


def run(quick: bool) -> list[Figure]:
    # The fake's filtered lookups scan every document it holds, so the batches stay modest.
    steady_orders = 100 if quick else 500
    first_time_orders = 48 if quick else 96
    fresh_orders = 100 if quick else 1000
    folder = _scratch()
    figures: list[Figure] = []
    try:
        shop, books = servers.new_shop(), servers.new_books()
        with shop.serve() as shop_server, books.serve() as books_server:
            (folder / "log").mkdir()
            config = servers.write_config(folder / "log", servers.shop_section(shop_server),
                                          servers.books_section(books_server))
            long_ago = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=3)
            warm = shop.generate(WARM_UP, first_id=10_000, modified_from=long_ago)
            _sync(config)

            # --- steady state -------------------------------------------------------------------
            shop_before = servers.shop_calls(shop_server)
            ids = shop.generate(steady_orders, first_id=warm[-1] + 3)
            figures.append(_calls_of_a_run(f"calls per order, steady state ({steady_orders:,} new orders, known customers)",
                                           1.05, config, books, shop, ids))
            shop_delta = servers.shop_calls(shop_server) - shop_before
            note(f"WooCommerce in that run: {dict(shop_delta)} "
                 f"({servers.orders_with_refunds(shop, ids)} of the new orders have refunds)")

            # --- a cron-sized batch ------------------------------------------------------------
            ids = shop.generate(CRON_BATCH, first_id=ids[-1] + 3)
            figures.append(_calls_of_a_run(f"calls per order, a cron-sized batch ({CRON_BATCH} new orders, known customers)",
                                           None, config, books, shop, ids))

            # --- first-time customers and products ----------------------------------------------
            mark = len(books_server.requests)
            tag = "A"
            ids, customers, products = _first_time_batch(shop, first_time_orders, ids[-1] + 3, tag)
            _sync(config)
            counted = _entity_calls(books_server.requests[mark:], tag)
            repeated = {key: n for key, n in counted.items() if n > 1}
            figures.append(Figure(f"calls per new customer/product ({len(customers)} customers, {len(products)} products, "
                                  "each bought twice)", sum(counted.values()), 2 * (len(customers) + len(products)), 1.0,
                                  "calls"))
            kinds = Counter(kind for kind, _ in counted.elements())
            note(f"{dict(kinds)}; repeated in the run: {len(repeated)} {list(repeated.items())[:3]}")

            # --- a fresh log ------------------------------------------------------------------
            fresh_shop = servers.new_shop()
            with fresh_shop.serve() as fresh_server:
                (folder / "fresh").mkdir()
                fresh_config = servers.write_config(folder / "fresh", servers.shop_section(fresh_server),
                                                    servers.books_section(books_server))
                ids = fresh_shop.generate(fresh_orders, first_id=900_000)
                figures.append(_calls_of_a_run(f"calls per order on a fresh log ({fresh_orders:,} new orders, known customers)",
                                               1.1, fresh_config, books, fresh_shop, ids))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return figures
