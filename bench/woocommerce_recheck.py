"""Figure 7: what the item-edit recheck (iexsync.recheck) costs and how soon it catches an edit.

With WooCommerce's posts order storage, saving an order's items does not move its
date_modified, so the change feed never shows the edit; every run re-reads one page of the
orders transferred in the last `shop.recheck_days`, in rotation. A fake shop (its orders in
posts storage) with 1,000 orders (40 with --quick, 20 a page) is transferred into a Beancount ledger,
then the real `iexsync sync` runs as cron would:

- shop calls per idle run with the recheck ÷ without it (reported, no goal): the recheck's
  price is one request a run (include=, per_page ids), whatever the shop's size;
- runs until an item edit is caught ÷ ceil(transferred / per_page): the edit is made to the
  order the last run re-read first, the worst place in the rotation, and must be decided
  again (its document updated) within one full rotation (goal 1.0).
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import tempfile
from pathlib import Path
from urllib.parse import parse_qs

from bench import servers
from bench.common import Figure, note

PER_PAGE = 100


def _sync(config: Path) -> None:
    run = servers.run_iexsync(["sync", "--config", str(config)])
    if run.returncode != 0:
        raise RuntimeError(f"iexsync sync exited {run.returncode}: {(run.stderr or run.stdout)[-800:]}")


def _include_lists(server: servers.FakeServer) -> list[list[str]]:
    with server._lock:  # noqa: SLF001
        queries = [parse_qs(r.query) for r in server.requests if r.path.endswith("/wc/v3/orders")]
    return [q["include"][0].split(",") for q in queries if "include" in q]


def _updates(log: Path, order_id: str) -> int:
    with sqlite3.connect(log) as db:
        return db.execute("SELECT count(*) FROM events WHERE order_id = ? AND outcome = 'updated'", (order_id,)).fetchone()[0]


def run(quick: bool) -> list[Figure]:
    count, per_page = (40, 20) if quick else (1000, PER_PAGE)  # --quick: two pages a rotation all the same
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-recheck-"))
    shop = servers.new_shop()
    shop.generate(count)
    try:
        with shop.serve() as server:
            accounting = {"system": "beancount", "path": "ledger.beancount", **servers.IN_USD}
            configs = {}
            for name, days in (("with", 14), ("without", 0)):
                (folder / name).mkdir()
                configs[name] = servers.write_config(folder / name, servers.shop_section(server, recheck_days=days, recheck_minutes=0, per_page=per_page),
                                                     accounting, {"overlap_minutes": 0})
                _sync(configs[name])
            transferred = sum(1 for entry in shop.orders.values() if entry.status in ("processing", "completed"))
            calls = {}
            for name, config in configs.items():
                with server._lock:  # noqa: SLF001
                    server.requests.clear()
                _sync(config)
                calls[name] = len(server.requests)
            note(f"{count} orders, {transferred} transferred; an idle run makes {calls['without']} shop call(s) "
                 f"without the recheck, {calls['with']} with it")

            rotation = math.ceil(transferred / per_page)
            target = _include_lists(server)[-1][0] if _include_lists(server) else ""
            processing = [i for i, e in shop.orders.items() if e.status == "processing"]
            order_id = int(target) if target and int(target) in processing else processing[0]

            def rename(raw: dict) -> None:
                raw["line_items"][0]["name"] += " (engraved)"

            shop.edit_items(order_id, rename)
            runs = 0
            while _updates(folder / "with" / "iexsync.db", str(order_id)) == 0 and runs < 3 * rotation + 3:
                _sync(configs["with"])
                runs += 1
            note(f"order {order_id}'s items edited (date_modified unchanged): caught after {runs} run(s); "
                 f"a full rotation is {rotation} run(s) of {per_page} orders")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return [
        Figure("recheck: shop calls per idle run, with ÷ without", calls["with"], calls["without"], None, "calls"),
        Figure("recheck: runs until an item edit is caught ÷ one rotation", runs, rotation, 1.0, "runs"),
    ]
