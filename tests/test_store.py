"""The log itself: migrations, concurrent opening, the webhook inbox's states."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from iexsync import migrations
from iexsync.store import Store

OPEN = "import sys; from pathlib import Path; from iexsync.store import Store; Store(Path(sys.argv[1])).close()"


def test_processes_opening_a_new_log_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "iexsync.db"
    processes = [subprocess.Popen([sys.executable, "-c", OPEN, str(path)], stderr=subprocess.PIPE) for _ in range(8)]
    failures = [p.stderr.read().decode() for p in processes if p.wait(timeout=60) != 0]
    assert failures == []
    store = Store(path)
    assert migrations.pending(store.conn) == []
    store.close()


def test_a_delivery_arriving_while_a_run_has_the_order_is_queued_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "iexsync.db")
    assert store.enqueue_delivery("woocommerce", "d1", "42", "order.updated") == "queued"
    assert store.enqueue_delivery("woocommerce", "d2", "42", "order.updated") == "duplicate"  # waiting already
    assert store.take_deliveries() == ["42"]  # a run takes it...
    assert store.enqueue_delivery("woocommerce", "d3", "42", "order.updated") == "queued"  # ...so a new change waits
    assert store.enqueue_delivery("woocommerce", "d1", "42", "order.updated") == "duplicate"  # a replay stays one
    store.finish_deliveries(["42"])
    assert store.queued_orders() == ["42"]  # d3, for the next run
    store.close()
