"""Figure 5: peak RSS of a 50,000-order import ÷ peak RSS of a 100-order import.

The shop is the file shop: a folder with one WooCommerce-shaped order per file, made from
the fake WooCommerce's generated orders (the examples 727, 728, 729, 723: three in four
transferred, one in four pending, so skipped; refunds left out, so that the fake's
reference lookups stay cheap). The books are the fake e-conomic, without latency.

Each import is one real `iexsync sync` process on a log that already holds a transfer
(a first run imported the folder's first order alone: a fresh log would look every
reference up first), and its peak RSS is the kernel's, read with os.wait4 for exactly
that process. The folder and the log live on tmpfs when there is one (/dev/shm), so
that SQLite's fsyncs do not stretch the run; memory is not affected by that.

Streaming means nothing is kept per order beyond the batch in flight, so the peak must
not grow with the number of orders: goal ≤ 1.5. (The 500-order --quick variant is a
much weaker test: at ~1.5 KB kept per order it shows as ~1.03.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from bench import servers
from bench.common import Figure, note


def _import(folder: Path, raws: list[dict], books_server) -> servers.Run:
    """Seed the log with the first order, then import the rest: the second run's RSS."""
    orders = folder / "orders"
    orders.mkdir(parents=True)
    config = servers.write_config(folder, {"platform": "file", "path": "orders"}, servers.books_section(books_server))
    (orders / f"{raws[0]['id']}.json").write_text(json.dumps(raws[0]))
    seeded = servers.run_iexsync(["sync", "--config", str(config)])
    if seeded.returncode != 0:
        raise RuntimeError(f"the seeding run exited {seeded.returncode}: {seeded.stderr[-800:]}")
    for raw in raws[1:]:
        (orders / f"{raw['id']}.json").write_text(json.dumps(raw))
    run = servers.peak_rss(["sync", "--config", str(config)])
    if run.returncode != 0:
        raise RuntimeError(f"iexsync sync exited {run.returncode}")
    return run


def _orders(shop: servers.FakeWooCommerce, count: int, first_id: int) -> list[dict]:
    raws = []
    for order_id in shop.generate(count, first_id=first_id):
        raw = shop.order_json(order_id)
        raw.pop("refunds", None)
        raws.append(raw)
    return raws


def run(quick: bool) -> list[Figure]:
    large = 500 if quick else 50_000
    small = 100
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-memory-", dir=base))
    try:
        shop, books = servers.new_shop(), servers.new_books()
        with books.serve() as books_server:
            few = _import(folder / "small", _orders(shop, small + 1, 10_000), books_server)
            many = _import(folder / "large", _orders(shop, large + 1, 100_000), books_server)
        note(f"{small} orders: {few.max_rss / 1e6:.1f} MB in {few.seconds:.1f} s; "
             f"{large:,} orders: {many.max_rss / 1e6:.1f} MB in {many.seconds:.1f} s; "
             f"growth {(many.max_rss - few.max_rss) / (large - small):.0f} bytes per order")
        return [Figure(f"peak RSS, {large:,}-order import ÷ {small}-order import (file shop → fake e-conomic)",
                       many.max_rss / 1e6, few.max_rss / 1e6, 1.5, "MB")]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
