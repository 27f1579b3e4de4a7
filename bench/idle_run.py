"""Figure 3: an idle `iexsync sync` (nothing changed) as a whole process ÷ a bare Python
process that imports requests and sqlite3 and makes one HTTP call to the same fake.

The shop is the fake WooCommerce: 60 orders (24 with --quick), four every 8 minutes (the examples 727,
728, 729, 723), all transferred to the fake e-conomic by a first run; both fakes answer
after 25 ms, as in the throughput figure. Then nothing changes, and the idle run does
what cron's next run does: start, read the config, open the log, ask the shop for the
orders changed since the cursor minus the overlap window (which re-reads the last
orders seen: here 8, two of them with refunds) and find nothing to do.

The two commands take turns (after a warm-up round), and each figure is the median. Both
run with their bytecode cached (a private PYTHONPYCACHEPREFIX, written in the warm-up
round), as an installed package's is: where PYTHONDONTWRITEBYTECODE is set, iexsync would
otherwise compile its own modules from source on every run while requests, which the bare
process imports, loads its installed bytecode. A second figure (info) is that uncached run.
Goal ≤ 1.4.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench import servers
from bench.common import Figure, iexsync_command, note, time_alternating

LATENCY = 0.025

BARE = """\
import sqlite3, sys
import requests
response = requests.get(sys.argv[1], auth=(sys.argv[2], sys.argv[3]), params={"per_page": 1}, timeout=10)
response.raise_for_status()
"""


def run(quick: bool) -> list[Figure]:
    # A process's time moves by some ms run to run, and by 10 % in spells of seconds: 61 turns
    # (about a minute) hold the median through one.
    repeat = 4 if quick else 61
    chunks = 6 if quick else 15  # four orders every 8 minutes
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-idle-"))
    try:
        shop, books = servers.new_shop(), servers.new_books()
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
        for chunk in range(chunks):
            shop.generate(4, first_id=10_000 + 12 * chunk, modified_from=start + timedelta(minutes=8 * chunk))
        with shop.serve(latency=LATENCY) as shop_server, books.serve(latency=LATENCY) as books_server:
            config = servers.write_config(folder, servers.shop_section(shop_server), servers.books_section(books_server))
            first = servers.run_iexsync(["sync", "--config", str(config)])
            if first.returncode != 0:
                raise RuntimeError(f"the first run exited {first.returncode}: {first.stderr[-800:]}")
            mark_w, mark_e = len(shop_server.requests), len(books_server.requests)
            commands = {
                "iexsync": [*iexsync_command(), "sync", "--config", str(config)],
                "bare": [sys.executable, "-c", BARE, f"{shop.site_url}/wp-json/wc/v3/orders", servers.KEY, servers.SECRET],
            }
            env = {"WOO_KEY": servers.KEY, "WOO_SECRET": servers.SECRET}
            times = time_alternating(commands, repeat, env={**env, "PYTHONDONTWRITEBYTECODE": "",
                                                            "PYTHONPYCACHEPREFIX": str(folder / "bytecode")})
            runs = repeat + 1
            shop_made = len(shop_server.requests) - mark_w - runs  # the bare process's calls off
            books_made = len(books_server.requests) - mark_e
            note(f"an idle run made {shop_made / runs:.1f} WooCommerce calls and {books_made / runs:.1f} e-conomic calls; "
                 f"iexsync {times['iexsync'] * 1000:.0f} ms, bare {times['bare'] * 1000:.0f} ms (medians of {repeat})")
            # (information only: --quick takes half the rounds for it)
            uncached = time_alternating(commands, repeat // 2 if quick else 15, env={**env, "PYTHONDONTWRITEBYTECODE": "1"})
            note(f"without a bytecode cache: iexsync {uncached['iexsync'] * 1000:.0f} ms, bare {uncached['bare'] * 1000:.0f} ms")
        return [Figure("idle sync (nothing changed), whole process ÷ bare python + requests + sqlite3 + 1 call",
                       times["iexsync"], times["bare"], 1.4),
                Figure("idle sync as above, without a bytecode cache (PYTHONDONTWRITEBYTECODE=1)",
                       uncached["iexsync"], uncached["bare"], None)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
