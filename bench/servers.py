"""The fake vendor APIs served for a benchmark, and an iexsync config pointing at them.

The fakes are the test suite's own (tests/fakes/): real HTTP on loopback, with latency
added to every request by FakeServer and, where a figure says so, a rate limit enforced
by the fake (a 429 with Retry-After past it). They run in the benchmark's process, on
their own threads; iexsync always runs as a separate process, the way cron runs it.

The shop's orders are FakeWooCommerce.generate's: WooCommerce's own documentation
examples (orders 727, 728, 729, 723), a US shop charging 7.5 % California sales tax,
product lines mostly without SKU. So the books are an e-conomic agreement in USD whose
home country is the US, and `products.default_sku` takes the lines without SKU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import REPO, iexsync_command

if str(REPO) not in sys.path:  # the fakes live in tests/, beside the package
    sys.path.insert(0, str(REPO))

from tests.fakes.economic import AGREEMENT_GRANT_TOKEN, APP_SECRET_TOKEN, FakeEconomic  # noqa: E402
from tests.fakes.server import FakeServer  # noqa: E402
from tests.fakes.woocommerce import FakeWooCommerce  # noqa: E402

KEY, SECRET = "ck_" + "be" * 20, "cs_" + "4c" * 20
DEFAULT_SKU = "WOO"

# e-conomic documents no per-second limit (fair use: 50,000 calls a day per agreement; a
# 429 token bucket is being rolled out). The benchmarks assume this one, enforced by the
# fake as a sliding one-second window, and tell iexsync about it in accounting.rate_limit.
ECONOMIC_RATE = 50  # requests per second per agreement
# The client's setting: the limit itself. Requests paced exactly at the limit used not to
# arrive paced (a worker let go may wait for the GIL before it sends; at 96 % a loaded
# 2-core machine saw a 429 in 7,532 calls, so this was 90 %). iexsync's limiter now counts
# a request from its release until a second after its answer (iexsync/http.py), which
# holds as the server counts, whatever the jitter.
ECONOMIC_CLIENT_RATE = ECONOMIC_RATE


@dataclass
class Run:
    """One iexsync process: its wall time, exit code, output and peak RSS (bytes)."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    max_rss: int


def run_iexsync(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                timeout: float = 900, command: list[str] | None = None) -> Run:
    """`iexsync <args>` as its own process: wall time, exit code and output (max_rss 0: see peak_rss).

    `command` runs another entry point in place of the installed script (bench/books_double.py)."""
    full_env = {**os.environ, "WOO_KEY": KEY, "WOO_SECRET": SECRET, **(env or {})}
    start = time.perf_counter()
    process = subprocess.Popen([*(command or iexsync_command()), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=full_env, cwd=cwd, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return Run(time.perf_counter() - start, process.returncode, stdout, stderr, 0)


# A small process that runs a command and prints its exit status and peak RSS (os.wait4:
# exactly that child's rusage).
_LAUNCHER = """\
import os, subprocess, sys
process = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 900) -> Run:
    """`iexsync <args>` (output discarded) with its own peak RSS.

    Started by a small launcher process, never by this one: Linux charges a process's
    ru_maxrss with the RSS of the process image it replaced at exec, and a child made by
    fork or vfork from this process (which holds the fakes and their tens of thousands of
    documents) would report this process's peak, not its own. The launcher's image is a
    bare Python's, smaller than iexsync's."""
    full_env = {**os.environ, "WOO_KEY": KEY, "WOO_SECRET": SECRET, **(env or {})}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *iexsync_command(), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=full_env, cwd=cwd, timeout=timeout, check=True)
    seconds = time.perf_counter() - start
    returncode, max_rss_kb = map(int, done.stdout.split())
    return Run(seconds, returncode, "", "", max_rss_kb * 1024)  # Linux counts kilobytes


# --- the shop ---------------------------------------------------------------------------------
def new_shop() -> FakeWooCommerce:
    return FakeWooCommerce(KEY, SECRET)


def shop_section(server: FakeServer, **overrides: Any) -> dict[str, Any]:
    return {"platform": "woocommerce", "url": server.url, "consumer_key": "${WOO_KEY}",
            "consumer_secret": "${WOO_SECRET}", **overrides}


# --- the books --------------------------------------------------------------------------------
# The generated orders are the US example shop's, in USD: the books' own currency, so no
# document asks for an exchange rate (accounting.exchange_rates).
IN_USD = {"exchange_rates": {"home_currency": "USD"}}


def new_books(rate_limit: tuple[int, float] | None = None) -> FakeEconomic:
    """An e-conomic agreement for the US example shop: USD, 7.5 % in the standard group."""
    return FakeEconomic(base_currency="USD", group_rates={1: Decimal("7.5"), 2: Decimal("0")}, rate_limit=rate_limit)


def books_section(server: FakeServer, **overrides: Any) -> dict[str, Any]:
    return {"system": "economic", "url": server.url, "app_secret_token": APP_SECRET_TOKEN,
            "agreement_grant_token": AGREEMENT_GRANT_TOKEN, "home_country": "US",
            "products": {"default_sku": DEFAULT_SKU}, **IN_USD, **overrides}


def economic_calls(fake: FakeEconomic) -> Counter[str]:
    with fake.lock:
        return Counter(fake.calls)


# --- the config -------------------------------------------------------------------------------
TRANSFER = {
    "allowed_states": ["processing", "completed"],
    "per_state": {"processing": {"document": "order"}, "completed": {"document": "invoice", "book": True}},
    "refunds": "credit_note",
    "require_sku": False,
}


def write_config(folder: Path, shop: dict[str, Any], accounting: dict[str, Any],
                 transfer: dict[str, Any] | None = None) -> Path:
    """config.yaml in `folder` (JSON is YAML); the log beside it."""
    tree = {"shop": shop, "accounting": accounting, "transfer": {**TRANSFER, **(transfer or {})},
            "log": {"path": "iexsync.db"}}
    path = folder / "config.yaml"
    path.write_text(json.dumps(tree, indent=2))
    path.chmod(0o600)
    return path


def has_config_key(section: str, key: str) -> bool:
    """Whether this iexsync's config schema knows `section.key` (e.g. transfer.workers)."""
    from iexsync import config

    properties = config.full_schema()["properties"].get(section, {}).get("properties", {})
    return key in properties



# --- the workload ---------------------------------------------------------------------------
def minimum_economic_calls(shop: FakeWooCommerce, ids: list[int]) -> int:
    """The fewest e-conomic calls TRANSFER needs for these (new) orders, customers and
    products known: one create per document, one more to book an invoice, and each refund a
    credit note, created and booked. A pending order needs none."""
    total = 0
    for order_id in ids:
        status = shop.order_json(order_id)["status"]
        if status == "processing":
            total += 1  # an order draft
        elif status == "completed":
            total += 2 + 2 * len(shop.refunds_json(order_id))  # invoice + booking; each credit note + booking
    return total


def orders_with_refunds(shop: FakeWooCommerce, ids: list[int]) -> int:
    return sum(1 for order_id in ids if shop.refunds_json(order_id))


def shop_calls(server: FakeServer) -> Counter[str]:
    """WooCommerce requests by kind: order list pages, refund reads, single orders."""
    kinds: Counter[str] = Counter()
    with server._lock:  # noqa: SLF001
        for request in server.requests:
            path = request.path.split("/wc/v3/", 1)[-1]
            kinds["refunds" if path.endswith("/refunds") else "order list" if path == "orders" else path.split("/")[0]] += 1
    return kinds
