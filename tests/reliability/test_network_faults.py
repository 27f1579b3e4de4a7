"""2. Ambiguous network: document creations through a fault-injecting proxy
(tests/fakes/faulty_proxy.py) between the real `iexsync sync` and the fake e-conomic —
connection resets before and after the request was forwarded, timeouts, 429 with
Retry-After, 502, 503 after the upstream acted, bodies cut off — until everything is
transferred. Then: every expected document exactly once, and every write whose outcome
the client could not know was settled by a lookup of its reference before that
document was written again.

Fast: each fault once on a document's first write; 50 documents at 30 % faults.
Full (`-m slow`): 2,000 documents (1,600 invoices + 400 credit notes) at 30 % faults
on writes (10 % on reads).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.fakes.faulty_proxy import FAULTS, Exchange, FaultyProxy, RandomFaults
from tests.reliability.support import (
    assert_no_crash, check_log, duplicate_count, duplicate_customers, economic, expected_references, make_orders,
    run_iexsync, verdict, write_config,
)

CLIENT_TIMEOUT = 0.6  # accounting.timeout: the proxy's silence outlasts it
HOLD = 1.0
DOCUMENT_POSTS = ("/invoices/drafts", "/orders/drafts")
# Faults iexsync is known to mishandle, kept out of the random mix until fixed (none now: a
# POST answer cut off mid-body was taken for a definite failure and written again, until
# http.py made it an unknown outcome; test_a_write_whose_answer_is_cut_off_* pins it).
KNOWN_BROKEN: set[str] = set()
WRITE_FAULTS = tuple(f for f in FAULTS if f not in KNOWN_BROKEN)
READ_FAULTS = tuple(f for f in FAULTS if f not in KNOWN_BROKEN)


def reference_posted(exchange: Exchange) -> str:
    if exchange.method != "POST" or exchange.path not in DOCUMENT_POSTS:
        return ""
    try:
        return str((json.loads(exchange.body).get("references") or {}).get("other", ""))
    except ValueError:
        return ""


def reference_looked_up(exchange: Exchange) -> str:
    if exchange.method != "GET":
        return ""
    value = parse_qs(exchange.query).get("filter", [""])[0]
    prefix = "references.other$eq:"
    return value[len(prefix):].replace("$$", "\x00").replace("$", "").replace("\x00", "$") if value.startswith(prefix) else ""


def definitely_refused(exchange: Exchange) -> bool:
    """The client knew for sure nothing was written: a 429 (the client waits and sends again
    at once, which is safe), or the upstream's own clean 4xx."""
    return exchange.fault == "status_429" or (exchange.clean and 400 <= exchange.upstream_status < 500)


def audit(proxy: FaultyProxy) -> dict[str, object]:
    """Per document reference, its writes and lookups in order: every write after an
    ambiguous one must have a lookup of the same reference in between; every ambiguous
    write must be followed by a lookup at all; the upstream created it once."""
    events: dict[str, list[tuple[int, str, Exchange]]] = defaultdict(list)
    for exchange in proxy.calls():
        if ref := reference_posted(exchange):
            events[ref].append((exchange.seq, "write", exchange))
        elif ref := reference_looked_up(exchange):
            events[ref].append((exchange.seq, "lookup", exchange))
    blind, unresolved, created = [], [], Counter()
    ambiguous = resolved = 0
    for ref, items in events.items():
        items.sort(key=lambda item: item[0])
        pending: Exchange | None = None  # the last ambiguous write not yet looked up
        for _, what, exchange in items:
            if what == "lookup":
                if pending is not None:
                    resolved += 1
                pending = None
                continue
            if pending is not None:
                blind.append((ref, pending.fault, exchange.seq))
            if exchange.forwarded and 200 <= exchange.upstream_status < 300:
                created[ref] += 1
            if not exchange.clean and not definitely_refused(exchange):
                ambiguous += 1
                pending = exchange
        if pending is not None:
            unresolved.append((ref, pending.fault))
    return {"blind_rewrites": blind, "unresolved": unresolved, "ambiguous": ambiguous, "resolved": resolved,
            "created_twice": sorted(r for r, n in created.items() if n > 1)}


def sync_until_done(tally, config: Path, fake, expected: list[str], db: Path, max_runs: int) -> int:
    """Run until a run ends clean (exit 0) with every document there and no write in flight."""
    for run in range(1, max_runs + 1):
        result = run_iexsync(tally, "sync", "--config", config, timeout=900)
        assert_no_crash(result, allowed=(0, 1, 75))
        state = verdict(fake, expected)
        assert state.duplicates == [], f"written twice: {state.duplicates[:10]}"
        if result.returncode == 0 and state.ok and check_log(db)["intents"] == 0:
            return run
    raise AssertionError(f"not done after {max_runs} runs: {verdict(fake, expected)}")


def faulty_workspace(tmp_path: Path, proxy_url: str) -> Path:
    return write_config(tmp_path, proxy_url, accounting={"timeout": CLIENT_TIMEOUT})


def settle(tally, proxy: FaultyProxy, fake, expected: list[str]) -> dict[str, object]:
    result = verdict(fake, expected)
    report = audit(proxy)
    faults = proxy.faults()
    tally.add(faults=sum(faults.values()), documents=result.expected, duplicates=duplicate_count(fake),
              lost=len(result.lost), lookups=len([e for e in proxy.calls("GET") if reference_looked_up(e)]),
              ambiguous_writes=report["ambiguous"], resolved_by_lookup=report["resolved"],
              blind_rewrites=len(report["blind_rewrites"]), duplicate_customers=duplicate_customers(fake),
              requests=len(proxy.exchanges))
    tally.note("faults injected: " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())))
    assert result.ok, str(result)
    assert report["blind_rewrites"] == [], report["blind_rewrites"][:10]
    assert report["unresolved"] == [], report["unresolved"][:10]
    assert report["created_twice"] == []
    assert duplicate_customers(fake) == 0
    return report


class FirstWrite:
    """Each listed reference's first document POST gets its fault; nothing else does."""

    def __init__(self, faults: dict[str, str]):
        self.faults = dict(faults)

    def __call__(self, exchange: Exchange) -> str | None:
        return self.faults.pop(reference_posted(exchange), None)


def one_fault_each(tmp_path: Path, tally, kinds: tuple[str, ...]) -> None:
    with economic() as (fake, server):
        # One order goes through clean first: a log that has recorded nothing yet looks
        # every document up before writing it, which would hide a blind retry.
        orders = make_orders(tmp_path / "orders", len(kinds) + 1, customers=1)
        refs = [f"iexsync:woocommerce:{o['id']}:invoice" for o in orders[1:]]
        with FaultyProxy(server.url, FirstWrite(dict(zip(refs, kinds))), hold=HOLD) as proxy:
            config = faulty_workspace(tmp_path, proxy.url)
            expected = expected_references(orders)
            runs = sync_until_done(tally, config, fake, expected, tmp_path / "iexsync.db", max_runs=5)
            report = settle(tally, proxy, fake, expected)
        tally.add(orders=len(orders))
        assert proxy.faults() == Counter(kinds)
        assert report["ambiguous"] == len([k for k in kinds if k != "status_429"])
        assert runs <= 3


def test_each_fault_on_a_documents_first_write(tmp_path: Path, tally) -> None:
    one_fault_each(tmp_path, tally, WRITE_FAULTS)


def test_a_write_whose_answer_is_cut_off_is_looked_up_not_repeated(tmp_path: Path, tally) -> None:
    one_fault_each(tmp_path, tally, ("truncated",))


def faults_at_scale(tmp_path: Path, tally, *, orders_per_batch: int, batches: int, seed: int,
                    max_runs: int) -> None:
    policy = RandomFaults(0.30, read_rate=0.10, kinds=WRITE_FAULTS, read_kinds=READ_FAULTS, seed=seed)
    with economic() as (fake, server), FaultyProxy(server.url, policy, hold=HOLD) as proxy:
        config = faulty_workspace(tmp_path, proxy.url)
        orders: list[dict] = []
        runs = []
        for batch in range(batches):
            orders += make_orders(tmp_path / "orders", orders_per_batch, start=80_000 + batch * orders_per_batch,
                                  refund_every=4, customers=25)
            expected = expected_references(orders)
            runs.append(sync_until_done(tally, config, fake, expected, tmp_path / "iexsync.db", max_runs))
        tally.add(orders=len(orders))
        tally.note(f"runs per batch until done: {runs}")
        settle(tally, proxy, fake, expected_references(orders))
        log = check_log(tmp_path / "iexsync.db")
        assert log["integrity"] == "ok" and log["intents"] == 0


def test_documents_through_a_network_that_fails_30_percent(tmp_path: Path, tally) -> None:
    faults_at_scale(tmp_path, tally, orders_per_batch=40, batches=1, seed=11, max_runs=25)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_2000_documents_through_a_network_that_fails_30_percent(tmp_path: Path, tally) -> None:
    faults_at_scale(tmp_path, tally, orders_per_batch=400, batches=4, seed=12, max_runs=40)
