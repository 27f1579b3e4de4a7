"""Dinero: a 500-order import (20 with --quick, in a window half as long) under Dinero's rate limit, with zero 429s.

Dinero allows 100 requests a minute per organisation. At that pace a 500-order import takes
some 30 minutes whatever iexsync does, so the limit is scaled: the fake Dinero's window and
iexsync's `accounting.rate_limit.per_seconds` are the same setting, WINDOW seconds (default
6; BENCH_DINERO_WINDOW=60 runs it at Dinero's real pace). Everything else is real: one
`iexsync sync` process, a file shop of WooCommerce orders (25 returning buyers, card
payments registered on a deposit account, every order booked), a fresh log (so every
reference is looked up before it is written), 25 ms latency on every request.

The bound is what the rate limit alone allows for the calls the run made, plus the
process's own start-up (measured in the same run: `iexsync config check` on the same
config, the median of three), which no pacing can shorten:
    calls ÷ (100 ÷ WINDOW) seconds + start-up
Goal: wall time ÷ bound ≤ 1.25, and not a single 429 (a second figure, goal 0). iexsync
paces at 90 % of the limit with a burst of a twentieth of it, so no window can hold more
than 95 requests; the best this figure can show is about 1/0.9 = 1.11.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path

import yaml

from bench.common import REPO, Figure, iexsync_command, note, time_process
from bench.servers import run_iexsync

LATENCY = 0.025
LIMIT = 100  # Dinero's requests per window (per minute in reality)
BUYERS = 25


def window() -> float:
    return float(os.environ.get("BENCH_DINERO_WINDOW", "6"))


def write_orders(folder: Path, count: int) -> None:
    template = json.loads((REPO / "examples" / "orders" / "1001.json").read_text())
    folder.mkdir(parents=True)
    for index in range(count):
        order = copy.deepcopy(template)
        order["id"] = order["number"] = 20_000 + index
        order["number"] = str(order["number"])
        order["billing"] = {**order["billing"], "email": f"buyer{index % BUYERS}@example.dk"}
        (folder / f"{order['id']}.json").write_text(json.dumps(order))


def run(quick: bool) -> list[Figure]:
    from tests.fakes.dinero import API_KEY, CLIENT_ID, CLIENT_SECRET, ORGANIZATION_ID, TOKEN_PATH, FakeDinero

    orders = 20 if quick else 500  # --quick: the whole bench in under a minute
    seconds = window() / 2 if quick else window()
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-dinero-", dir=base))
    try:
        write_orders(folder / "orders", orders)
        fake = FakeDinero(rate_limit=LIMIT, window=seconds)
        with fake.serve(latency=LATENCY) as server:
            tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
            tree["shop"] = {"platform": "file", "path": "orders"}
            tree["transfer"].update(allowed_states=["completed"], per_state={}, book=True)
            tree["accounting"] = {
                "system": "dinero", "url": server.url, "auth_url": server.url + TOKEN_PATH,
                "organization_id": ORGANIZATION_ID, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "api_key": API_KEY, "rate_limit": {"requests": LIMIT, "per_seconds": seconds},
                "payments": {"methods": {"stripe": {"condition": "Paid", "deposit_account": 55010}}},
            }
            tree["log"] = {"path": "iexsync.db"}
            config = folder / "config.yaml"
            config.write_text(yaml.safe_dump(tree, sort_keys=False))
            config.chmod(0o600)
            start_up = time_process([*iexsync_command(), "config", "check", "--config", str(config)], 3)
            result = run_iexsync(["sync", "--config", str(config)])
            if result.returncode != 0:
                raise RuntimeError(f"iexsync sync exited {result.returncode}: {result.stderr[-800:]}")
            booked = sum(1 for d in fake.invoices.values() if d["Status"] == "Booked")
            if booked != orders or sum(len(p) for p in fake.payments.values()) != orders:
                raise RuntimeError(f"{booked} of {orders} invoices booked, {len(fake.payments)} paid")
            calls = len(fake.accepted_times) + fake.rejected_429
            limit = calls / (LIMIT / seconds) + start_up
            note(f"{orders} orders, {calls} calls ({calls / orders:.2f} an order: a lookup by Guid and by reference "
                 f"first on a fresh log, the invoice, its read-back, booking, payment; {len(fake.contacts)} contacts), "
                 f"window {seconds:g} s for {LIMIT} requests, {calls / result.seconds:.1f} calls/s achieved, "
                 f"start-up {start_up:.2f} s")
            return [
                Figure(f"Dinero: {orders} orders under {LIMIT} requests per {seconds:g} s (the scaled minute)",
                       result.seconds, limit, 1.25),
                Figure("Dinero: 429 answers ÷ calls in that run", fake.rejected_429, calls, 0.0, "calls"),
            ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
