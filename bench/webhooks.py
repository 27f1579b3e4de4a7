"""Webhooks: the receiver under load, and how soon a delivery becomes a document.

The real `iexsync webhook serve` runs as its own process against the fake WooCommerce
and the fake e-conomic (25 ms latency each, as in the throughput figure); its worker
runs the engine for the queued orders in the same process while deliveries arrive.

- under load: 2,000 signed deliveries for 500 orders at 50 a
  second (100 for 25 with --quick), open loop (delivery i is sent at i/50 s whatever the answers do), by 8 sender
  threads with a kept-alive connection each: four rounds, each order once per round
  (order.created, then order.updated three times, each its own delivery). Then: zero
  lost (every delivery answered 200, the inbox holds them all and none stays queued,
  every order in an allowed state in the books exactly once). The figure: p99 of the
  time to answer ÷ the p99 of a bare waitress app (4 threads, as the receiver) that
  reads the body and answers 200, sent the same deliveries at the same pace, once before
  iexsync's receiver runs and once after (the two runs' answers pooled). Goal ≤ 3. The
  deliveries are sent by a process of their own, in both cases.
- webhook to books: for 10 new completed orders (2 with --quick), one at a time, the
  time from sending its delivery until its invoice is booked in the fake e-conomic;
  the median ÷ the median of `iexsync sync --order ID` (a whole process, as support
  runs it) for 10 others like them. Goal ≤ 1.2.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench import servers
from bench.common import REPO, Figure, iexsync_command, note

HOOK_SECRET = "bench-hook-secret"
RATE = 50  # deliveries a second
SENDERS = 8
LATENCY = 0.025

BARE_APP = """\
import sys, waitress
def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'{"status": "queued"}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
print("listening", flush=True)
waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=4, _quiet=True)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(command: list[str], port: int, env: dict | None = None) -> subprocess.Popen:
    import os

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited {process.returncode} before listening")
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{command[:3]} did not listen on {port}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _delivery(raw: dict, topic: str, number: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(raw).encode()
    signature = base64.b64encode(hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return body, {"Content-Type": "application/json", "X-WC-Webhook-Topic": topic, "X-WC-Webhook-Resource": "order",
                  "X-WC-Webhook-Event": topic.split(".")[1], "X-WC-Webhook-ID": "7",
                  "X-WC-Webhook-Delivery-ID": f"bench-{number}", "X-WC-Webhook-Signature": signature}


def _send_paced(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, float]]:
    """(status, seconds to answer) per delivery, sent open loop at RATE a second by a
    process of its own: in this one the fakes answer the receiver's worker (and validate
    every body against the vendor's schemas), and a sender sharing their GIL would time
    their work as the receiver's answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([[base64.b64encode(body).decode(), headers] for body, headers in deliveries], handle)
    try:
        sent = subprocess.run([sys.executable, "-m", "bench.webhooks", url, handle.name], capture_output=True,
                              text=True, cwd=REPO, timeout=600)
    finally:
        Path(handle.name).unlink()
    if sent.returncode != 0:
        raise RuntimeError(f"the sender process exited {sent.returncode}: {sent.stderr[-800:]}")
    return [(status, seconds) for status, seconds in json.loads(sent.stdout)]


def _send_in_this_process(url: str, deliveries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, float]]:
    results: list[tuple[int, float] | None] = [None] * len(deliveries)
    lock = threading.Lock()
    nxt = [0]
    start = time.perf_counter() + 0.2

    def sender() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    index = nxt[0]
                    nxt[0] += 1
                if index >= len(deliveries):
                    return
                due = start + index / RATE
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                body, headers = deliveries[index]
                began = time.perf_counter()
                try:
                    status = session.post(url, data=body, headers=headers, timeout=30).status_code
                except requests.RequestException:
                    status = 0
                results[index] = (status, time.perf_counter() - began)

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def _bare_answers(deliveries: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, float]]:
    """The same deliveries, at the same pace, answered by the bare waitress app."""
    port = _free_port()
    bare = _start([sys.executable, "-c", BARE_APP, str(port)], port)
    try:
        return _send_paced(f"http://127.0.0.1:{port}/webhooks/woocommerce", deliveries)
    finally:
        _stop(bare)


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def _new_orders(shop: servers.FakeWooCommerce, count: int, first_id: int, status: str | None = None) -> list[dict]:
    raws = []
    for order_id in shop.generate(count, first_id=first_id):
        raw = shop.order_json(order_id)
        raw.pop("refunds", None)
        if status:
            raw["status"] = status
        shop.add_order(raw, refunds=[])
        raws.append(shop.order_json(order_id))
    return raws


def _documents(books: servers.FakeEconomic) -> list[str]:
    with books.lock:
        stores = (books.drafts, books.booked, books.orders)
        return [d["references"]["other"] for store in stores for d in store.values()]


def _queued(log: Path) -> int:
    conn = sqlite3.connect(log)
    try:
        return conn.execute("SELECT count(*) FROM inbox WHERE status = 'queued'").fetchone()[0]
    finally:
        conn.close()


def run(quick: bool) -> list[Figure]:
    orders, rounds, samples = (25, 4, 2) if quick else (500, 4, 10)
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    folder = Path(tempfile.mkdtemp(prefix="iexsync-bench-webhooks-", dir=base))
    try:
        shop, books = servers.new_shop(), servers.new_books()
        with shop.serve(latency=LATENCY) as shop_server, books.serve(latency=LATENCY) as books_server:
            config = servers.write_config(folder, servers.shop_section(shop_server, webhook_secret=HOOK_SECRET),
                                          servers.books_section(books_server))
            warm = _new_orders(shop, 8, 10_000)  # customers and products known, as in steady state
            servers.run_iexsync(["sync", "--config", str(config)])
            raws = _new_orders(shop, orders, warm[-1]["id"] + 3)
            deliveries = [_delivery(raw, "order.created" if r == 0 else "order.updated", r * orders + i)
                          for r in range(rounds) for i, raw in enumerate(raws)]

            bare_before = _bare_answers(deliveries)

            port = _free_port()
            receiver = _start([*iexsync_command(), "webhook", "serve", "--config", str(config), "--port", str(port)],
                              port, env={"WOO_KEY": servers.KEY, "WOO_SECRET": servers.SECRET})
            url = f"http://127.0.0.1:{port}/webhooks/woocommerce"
            try:
                answers = _send_paced(url, deliveries)
                expected = {f"iexsync:woocommerce:{raw['id']}:{'invoice' if raw['status'] == 'completed' else 'order'}"
                            for raw in raws if raw["status"] in servers.TRANSFER["allowed_states"]}
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline and (_queued(folder / "iexsync.db") or
                                                       not expected <= set(_documents(books))):
                    time.sleep(0.1)
                documents = _documents(books)
                # --- webhook to books, one order at a time, against sync --order ------------------
                fresh = _new_orders(shop, 2 * samples, raws[-1]["id"] + 3, status="completed")
                delays = []
                for number, raw in enumerate(fresh[:samples]):
                    before = books.count("POST /invoices/booked")
                    body, headers = _delivery(raw, "order.created", 10**6 + number)
                    began = time.perf_counter()
                    requests.post(url, data=body, headers=headers, timeout=30)
                    while books.count("POST /invoices/booked") == before and time.perf_counter() - began < 60:
                        time.sleep(0.002)
                    delays.append(time.perf_counter() - began)
                by_command = []
                for raw in fresh[samples:]:
                    run = servers.run_iexsync(["sync", "--config", str(config), "--order", str(raw["id"])])
                    if run.returncode != 0:
                        raise RuntimeError(f"sync --order exited {run.returncode}: {run.stderr[-500:]}")
                    by_command.append(run.seconds)
            finally:
                _stop(receiver)
            bare_after = _bare_answers(deliveries)
        bare_answers = bare_before + bare_after  # a bound taken on both sides: a quiet or busy spell tilts it less
        refused = [status for status, _ in answers if status != 200]
        missing = expected - set(documents)
        doubled = {ref for ref in documents if documents.count(ref) > 1 and ref in expected}
        lost = len(refused) + len(missing) + len(doubled)
        times = [seconds for _, seconds in answers]
        bare_times = [seconds for _, seconds in bare_answers]
        note(f"{len(deliveries):,} deliveries for {orders} orders at {RATE}/s: {len(refused)} not answered 200, "
             f"{len(missing)} orders missing from the books, {len(doubled)} twice; answer p50 "
             f"{statistics.median(times) * 1000:.1f} ms, p99 {_p99(times) * 1000:.1f} ms (bare waitress p50 "
             f"{statistics.median(bare_times) * 1000:.1f} ms, p99 {_p99(bare_times) * 1000:.1f} ms; before iexsync's run "
             f"{_p99([t for _, t in bare_before]) * 1000:.1f}, after it {_p99([t for _, t in bare_after]) * 1000:.1f})")
        note("delivery → booked invoice: " + ", ".join(f"{d * 1000:.0f}" for d in delays) + " ms; sync --order: "
             + ", ".join(f"{s * 1000:.0f}" for s in by_command) + " ms")
        return [
            Figure(f"webhooks: {len(deliveries):,} deliveries for {orders} orders at {RATE}/s, lost or doubled",
                   lost, len(deliveries), 0.0, "deliveries"),
            Figure(f"webhooks: p99 answer under that load ÷ a bare waitress app's", _p99(times), _p99(bare_times), 3.0),
            Figure("webhook to books: median delivery → document (the invoice booked) ÷ one `sync --order`",
                   statistics.median(delays), statistics.median(by_command), 1.2),
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # the sender process: python -m bench.webhooks URL DELIVERIES.json
    with open(sys.argv[2]) as given:
        loaded = [(base64.b64decode(body), headers) for body, headers in json.load(given)]
    print(json.dumps(_send_in_this_process(sys.argv[1], loaded)))
