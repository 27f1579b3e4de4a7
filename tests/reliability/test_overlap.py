"""3. Overlap: many `iexsync sync` processes started at once on one log.

- With the run lock (as shipped): 20 processes at once; the one that gets the lock is held
  at a gate in the fake e-conomic (its first request waits), and the other 19 must all exit
  75 while it still holds the lock — so they did not wait for it — and do nothing; then
  the gate opens and the holder finishes. Repeated (1× fast, 50× full) with new orders.
- Without the file lock (each process its own `log.lock_path`, one `log.path`): only the
  per-order claim in the log stands between the processes. They all run at once over the
  same orders; nothing may be written twice, nothing lost.
- And deterministically: a process holding an order's claim with its write in flight
  (held at the gate), and a second process — no file lock between them — must leave that
  order alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.fakes.gate import Gate
from tests.reliability.support import (
    REPO, assert_no_crash, base_env, check_log, duplicate_count, economic, expected_references, iexsync_command,
    make_orders, record, run_iexsync, verdict, wait_for, write_config,
)


def spawn(config: Path) -> subprocess.Popen:
    return subprocess.Popen(iexsync_command("sync", "--config", config), cwd=REPO, env=base_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def collect(tally, process: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=timeout)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    record(tally, result)
    return result


def one_works_the_others_exit_75(tmp_path: Path, tally, repetitions: int, processes: int = 20) -> None:
    with economic(app=Gate) as (fake, server):
        gate: Gate = server.app
        config = write_config(tmp_path, server.url)
        orders: list[dict] = []
        slowest_loser = 0.0
        for repetition in range(repetitions):
            orders += make_orders(tmp_path / "orders", 2, start=90_000 + 2 * repetition)
            gate.held.clear()
            gate.hold(lambda request: True)  # the lock holder's first request waits here
            started = time.monotonic()
            running = [spawn(config) for _ in range(processes)]
            assert gate.wait_held(1, timeout=120), "no run reached e-conomic"
            # Every other process must give up while the holder still holds the lock.
            losers = []
            deadline = time.monotonic() + 120
            while len(losers) < processes - 1 and time.monotonic() < deadline:
                for process in running:
                    if process not in losers and process.poll() is not None:
                        losers.append(process)
                        slowest_loser = max(slowest_loser, time.monotonic() - started)
                time.sleep(0.01)
            assert len(gate.held) == 1, "a second process reached e-conomic while the lock was held"
            held_up = [p for p in running if p not in losers]
            assert len(held_up) == 1, f"{len(losers)} of {processes - 1} others gave up"
            gate.release()
            results = [collect(tally, p) for p in losers]
            winner = collect(tally, held_up[0])
            assert_no_crash(winner, allowed=(0,))
            for result in results:
                assert result.returncode == 75, result.stderr
                assert "another iexsync run holds" in result.stderr, result.stderr
                assert "Traceback" not in result.stderr
        tally.add(orders=len(orders), exited_75=(processes - 1) * repetitions)
        tally.note(f"slowest of the others to exit 75: {slowest_loser:.1f} s after the start (the holder waited at the gate)")
        result = verdict(fake, expected_references(orders))
        tally.add(documents=result.expected, duplicates=duplicate_count(fake), lost=len(result.lost))
        assert result.ok, str(result)


def test_20_at_once_one_works_the_others_exit_75(tmp_path: Path, tally) -> None:
    one_works_the_others_exit_75(tmp_path, tally, repetitions=1)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_20_at_once_50_times(tmp_path: Path, tally) -> None:
    one_works_the_others_exit_75(tmp_path, tally, repetitions=50)


# --- without the file lock ------------------------------------------------------------------
def unlocked_configs(folder: Path, url: str, count: int) -> list[Path]:
    """`count` configs on one log and one orders folder, each with its own lock file."""
    base = write_config(folder, url)
    tree = yaml.safe_load(base.read_text())
    paths = []
    for index in range(count):
        tree["log"] = {"path": "iexsync.db", "lock_path": f"locks/run{index}.lock"}
        path = folder / f"config{index}.yaml"
        path.write_text(yaml.safe_dump(tree, sort_keys=False))
        path.chmod(0o600)
        paths.append(path)
    return paths


def claims_alone(tmp_path: Path, tally, *, processes: int, repetitions: int, orders_each: int) -> None:
    with economic(latency=0.01) as (fake, server):
        configs = unlocked_configs(tmp_path, server.url, processes)
        orders: list[dict] = []
        busy = 0
        for repetition in range(repetitions):
            orders += make_orders(tmp_path / "orders", orders_each, start=95_000 + orders_each * repetition,
                                  refund_every=3, customers=3)
            running = [spawn(config) for config in configs]
            for process in running:
                result = collect(tally, process)
                assert_no_crash(result, allowed=(0,))  # an order held by another run is no error
                busy += result.stdout.count("held by another run")
            state = verdict(fake, expected_references(orders), booked=False)
            assert state.duplicates == [], f"written twice: {state.duplicates}"
        final = run_iexsync(tally, "sync", "--config", configs[0])
        assert_no_crash(final, allowed=(0,))
        result = verdict(fake, expected_references(orders))
        log = check_log(tmp_path / "iexsync.db")
        tally.add(orders=len(orders), documents=result.expected, duplicates=duplicate_count(fake),
                  lost=len(result.lost), recovered=log["recovered"])
        assert result.ok, str(result)
        assert log["integrity"] == "ok" and log["intents"] == 0


def test_without_the_file_lock_the_claims_alone_prevent_duplicates(tmp_path: Path, tally) -> None:
    claims_alone(tmp_path, tally, processes=6, repetitions=1, orders_each=24)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_without_the_file_lock_20_at_once_10_times(tmp_path: Path, tally) -> None:
    claims_alone(tmp_path, tally, processes=20, repetitions=10, orders_each=30)


def document_post(request: dict) -> bool:
    return request["method"] == "POST" and request["path"] == "/invoices/drafts"


def test_a_claimed_order_with_a_write_in_flight_is_left_alone(tmp_path: Path, tally) -> None:
    """Run A holds order X's claim, its draft POST held at the gate; run B (its own lock
    file, the same log) starts meanwhile. B must not write X; then A finishes."""
    with economic(app=Gate) as (fake, server):
        gate: Gate = server.app
        first, second = unlocked_configs(tmp_path, server.url, 2)
        orders = make_orders(tmp_path / "orders", 1)
        assert run_iexsync(tally, "sync", "--config", first).returncode == 0  # the log is not fresh any more
        orders += make_orders(tmp_path / "orders", 1, start=99_000)
        gate.hold(document_post)
        a = spawn(first)
        assert gate.wait_held(1)
        b = run_iexsync(tally, "sync", "--config", second, "--verbose")
        assert_no_crash(b, allowed=(0,))  # it left the held order alone: no error
        gate.release()
        assert_no_crash(collect(tally, a), allowed=(0,))
        result = verdict(fake, expected_references(orders))
        tally.add(orders=2, documents=result.expected, duplicates=duplicate_count(fake), lost=len(result.lost))
        assert result.ok, str(result)
        assert "held by another run" in b.stdout


def test_an_intent_in_flight_is_not_settled_by_an_overlapping_run(tmp_path: Path, tally) -> None:
    """Run A's draft POST is held at the gate; run B (no file lock between them) starts and
    looks at the open intents; then the fake acts on A's POST and A is killed before it hears
    the answer. A final run must find the draft, not write a second one."""
    with economic(app=Gate) as (fake, server):
        gate: Gate = server.app
        first, second = unlocked_configs(tmp_path, server.url, 2)
        orders = make_orders(tmp_path / "orders", 1)
        assert run_iexsync(tally, "sync", "--config", first).returncode == 0
        orders += make_orders(tmp_path / "orders", 1, start=99_000)
        gate.hold(document_post)
        a = spawn(first)
        gate.after(document_post, lambda request: os.kill(a.pid, signal.SIGKILL))
        assert gate.wait_held(1)
        b = run_iexsync(tally, "sync", "--config", second)  # the intent is open, A is alive
        assert_no_crash(b, allowed=(0,))
        gate.release()
        assert collect(tally, a).returncode == -signal.SIGKILL
        final = run_iexsync(tally, "sync", "--config", first)
        assert_no_crash(final, allowed=(0,))
        result = verdict(fake, expected_references(orders))
        tally.add(orders=2, documents=result.expected, duplicates=duplicate_count(fake), lost=len(result.lost))
        assert result.ok, str(result)
