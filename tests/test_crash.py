"""Kill -9 at every point between "intent recorded" and "log committed": after a clean
run, every order has exactly one document and none is lost.

The fast subset runs by default; `pytest -m slow` runs the full sizes.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, bean_check, expected_references, ledger_entries, make_orders, run_process, write_config
from tests.crash_runner import POINTS


def crash_workspace(tmp_path: Path, orders: int) -> tuple[Path, Path]:
    folder = tmp_path / "orders"
    make_orders(folder, orders, refund_every=4)
    config = write_config(tmp_path / "config.yaml", {
        "shop": {"path": "orders"},
        "transfer": {"allowed_states": ["completed"], "per_state": {}, "book": True, "require_sku": True},
    })
    return folder, config


def run_crashing(point: str, occurrence: int, config: Path) -> int:
    result = subprocess.run(
        [sys.executable, "-m", "tests.crash_runner", point, str(occurrence), "--", "sync", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    return result.returncode


def assert_exactly_once(tmp_path: Path, folder: Path) -> None:
    ledger = tmp_path / "books" / "ledger.beancount"
    refs = ledger_entries(ledger)
    expected = expected_references(folder)
    duplicates = sorted({r for r in refs if refs.count(r) > 1})
    lost = sorted(set(expected) - set(refs))
    assert duplicates == [], f"booked twice: {duplicates}"
    assert lost == [], f"lost: {lost}"
    assert sorted(refs) == expected
    assert bean_check(ledger) == []
    db = sqlite3.connect(tmp_path / "iexsync.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("select count(*) from intents").fetchone()[0] == 0
    logged = {r[0] for r in db.execute("select order_id from events where outcome = 'transferred'")}
    assert logged == {p.stem for p in folder.glob("*.json")}


@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_at_each_point_then_a_clean_run(tmp_path: Path, point: str) -> None:
    folder, config = crash_workspace(tmp_path, orders=12)
    assert run_crashing(point, 1, config) == -signal.SIGKILL  # the point is on the path of every run
    assert run_crashing(point, 5, config) in (-signal.SIGKILL, 0)
    final = run_process("sync", "--config", config)
    assert final.returncode == 0, final.stderr
    assert_exactly_once(tmp_path, folder)


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(POINTS))
def test_kill_at_each_point_full_size(tmp_path: Path, point: str) -> None:
    """8+ points × 25 runs over 200 orders."""
    folder, config = crash_workspace(tmp_path, orders=200)
    rng = random.Random(point)
    for _ in range(25):
        run_crashing(point, rng.randint(1, 60), config)
    assert run_process("sync", "--config", config, timeout=300).returncode == 0
    assert_exactly_once(tmp_path, folder)


def kill_at_random_moments(tmp_path: Path, orders: int, kills: int, seed: int) -> None:
    folder, config = crash_workspace(tmp_path, orders=orders)
    rng = random.Random(seed)
    for _ in range(kills):
        process = subprocess.Popen(
            [sys.executable, "-m", "iexsync", "sync", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert run_process("sync", "--config", config, timeout=300).returncode == 0
    assert_exactly_once(tmp_path, folder)


def test_kill_at_random_moments(tmp_path: Path) -> None:
    kill_at_random_moments(tmp_path, orders=40, kills=8, seed=1)


@pytest.mark.slow
def test_kill_at_random_moments_full_size(tmp_path: Path) -> None:
    kill_at_random_moments(tmp_path, orders=200, kills=200, seed=2)


def test_a_lost_log_books_nothing_again(tmp_path: Path) -> None:
    """The log deleted (or a new machine): the accounting system still holds every
    document, and a fresh log finds them by reference instead of writing them again."""
    folder, config = crash_workspace(tmp_path, orders=10)
    assert run_process("sync", "--config", config).returncode == 0
    for leftover in tmp_path.glob("iexsync.db*"):
        leftover.unlink()
    result = run_process("sync", "--config", config, "--verbose")
    assert result.returncode == 0, result.stderr
    assert "recorded, not written again" in result.stdout
    assert_exactly_once(tmp_path, folder)
