"""6. Disk full, read-only log: the real `iexsync sync` writing its log onto a disk that fills
up mid-run, or that is read-only, must stop with a clear message and exit 75 (no
traceback), leave the log intact (integrity_check) with no half-written state, and once
there is room again the next run finishes the job: every document exactly once.

The disk is a real tmpfs of a few hundred kB (`mount -t tmpfs -o size=...`), remounted
bigger or read-only in place, when this runs as root where mounting is allowed; otherwise
a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored so writes fail with EFBIG) on the
iexsync process stands in for the full disk, and the read-only case is skipped for root.
The summary notes which was used.

Fast: one fill-up, one read-only. Full (`-m slow`): the disk fills at 12 different sizes
(there the state afterwards is checked; the message and exit code are the fast test's).
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.support import (
    assert_no_crash, check_log, duplicate_count, economic, expected_references, make_orders, run_iexsync, verdict,
    write_config,
)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator["Disk"]:
    folder.mkdir(parents=True, exist_ok=True)
    allowed = os.geteuid() == 0 and not os.environ.get("IEXSYNC_TEST_NO_MOUNT")  # set it to try the fallback
    mounted = allowed and _mount("-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", str(folder))
    disk = Disk(folder, size_kb, mounted)
    try:
        yield disk
    finally:
        if mounted:
            if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True)


class Disk:
    def __init__(self, folder: Path, size_kb: int, mounted: bool):
        self.folder, self.size_kb, self.mounted = folder, size_kb, mounted
        self.how = "tmpfs" if mounted else "RLIMIT_FSIZE"

    def grow(self, size_kb: int = 65536) -> None:
        self.size_kb = size_kb
        if self.mounted:
            assert _mount("-o", f"remount,size={size_kb}k", str(self.folder))

    def read_only(self, on: bool) -> bool:
        if not self.mounted:
            return False
        return _mount("-o", "remount," + ("ro" if on else "rw"), str(self.folder))

    def limits(self) -> dict:
        """subprocess arguments: with a real small disk, none; else a file-size limit."""
        if self.mounted or self.size_kb >= 65536:
            return {}
        limit = self.size_kb * 1024

        def limited() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return {"preexec_fn": limited}


def full_disk_then_room(tmp_path: Path, tally, size_kb: int, orders_count: int, *, clear_error: bool = True) -> None:
    """Fill the disk mid-run, then give it room. `clear_error`: also require exit 75 with a
    message (not a traceback) from the run that hit the full disk."""
    with economic() as (fake, server), small_disk(tmp_path / "disk", size_kb) as disk:
        orders = make_orders(tmp_path / "orders", orders_count, refund_every=4)
        config = write_config(tmp_path, server.url, log={"path": str(disk.folder / "iexsync.db")})
        tally.note(f"disk of {size_kb} kB by {disk.how}")
        full = run_iexsync(tally, "sync", "--config", config, **disk.limits())
        assert full.returncode != 0, "the disk never filled up: make it smaller"
        tally.add(full_disk_tracebacks=int("Traceback" in full.stderr), full_disk_exit_75=int(full.returncode == 75))
        if clear_error:
            assert_no_crash(full, allowed=(75,))
            assert "cannot be written" in full.stderr or "cannot open the log" in full.stderr, full.stderr
            assert str(disk.folder) in full.stderr
        with sqlite3.connect(f"file:{disk.folder / 'iexsync.db'}?mode=ro", uri=True) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        written = sum(1 for _ in fake.booked) + len(fake.drafts)
        disk.grow()
        final = run_iexsync(tally, "sync", "--config", config, **disk.limits())
        assert_no_crash(final, allowed=(0,))
        result = verdict(fake, expected_references(orders))
        log = check_log(disk.folder / "iexsync.db")
        tally.add(orders=orders_count, documents=result.expected, duplicates=duplicate_count(fake),
                  lost=len(result.lost), disk_full_stops=1, written_before_the_disk_filled=written,
                  recovered=log["recovered"])
        assert result.ok, str(result)
        assert log["integrity"] == "ok" and log["intents"] == 0


def test_a_disk_that_fills_up_mid_run_leaves_nothing_half_written(tmp_path: Path, tally) -> None:
    full_disk_then_room(tmp_path, tally, size_kb=400, orders_count=40, clear_error=False)


def test_a_full_disk_is_a_clear_error_with_exit_75(tmp_path: Path, tally) -> None:
    full_disk_then_room(tmp_path, tally, size_kb=400, orders_count=40)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("size_kb", [150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 1000])
def test_the_disk_fills_up_at_each_size(tmp_path: Path, tally, size_kb: int) -> None:
    full_disk_then_room(tmp_path, tally, size_kb=size_kb, orders_count=80, clear_error=False)


@pytest.mark.parametrize("lock", ["beside", "elsewhere"])
def test_a_read_only_log(tmp_path: Path, tally, lock: str) -> None:
    """The lock file beside the log (the default: it is the first thing that fails), or on
    a writable disk (so the log itself is what cannot be written)."""
    with economic() as (fake, server), small_disk(tmp_path / "disk", 65536) as disk:
        if not disk.mounted:
            pytest.skip("needs a read-only mount (root with mount rights); root ignores file modes")
        orders = make_orders(tmp_path / "orders", 5)
        log = {"path": str(disk.folder / "iexsync.db")}
        if lock == "elsewhere":
            log["lock_path"] = str(tmp_path / "iexsync.lock")
        config = write_config(tmp_path, server.url, log=log)
        assert_no_crash(run_iexsync(tally, "sync", "--config", config), allowed=(0,))
        orders += make_orders(tmp_path / "orders", 5, start=51_000)
        before = sum(documents_count(fake))
        assert disk.read_only(True)
        try:
            stuck = run_iexsync(tally, "sync", "--config", config)
        finally:
            assert disk.read_only(False)
        tally.note(f"read-only: {stuck.stderr.strip()[:200]}")
        assert_no_crash(stuck, allowed=(75,))
        assert str(disk.folder) in stuck.stderr and ("read" in stuck.stderr or "cannot" in stuck.stderr), stuck.stderr
        assert sum(documents_count(fake)) == before, "written to e-conomic with a log that cannot record it"
        final = run_iexsync(tally, "sync", "--config", config)
        assert_no_crash(final, allowed=(0,))
        result = verdict(fake, expected_references(orders))
        tally.add(orders=len(orders), documents=result.expected, duplicates=duplicate_count(fake), lost=len(result.lost))
        tally.note(f"read-only log by {disk.how} remount")
        assert result.ok, str(result)


def documents_count(fake) -> list[int]:
    with fake.lock:
        return [len(fake.drafts), len(fake.booked)]
