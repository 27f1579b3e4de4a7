"""The run summary of a big import: bounded, and the errors are never the ones left out."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_orders

from iexsync.engine import KEPT_EVENTS


def test_a_big_run_summarises_the_first_thousand_events_but_keeps_every_error(demo: Path, cli) -> None:
    orders = demo.parent / "examples" / "orders"
    make_orders(orders, KEPT_EVENTS + 100)
    for n in range(3):  # read last (names sort after every order file)
        (orders / f"zz-broken-{n}.json").write_text("{ not json")

    result = cli("sync", "--config", demo, "--dry-run", "--verbose")

    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:5] == ["order", "state", "outcome", "document", "message"])
    end = next(i for i, line in enumerate(lines) if line.startswith("… and "))
    header, table = lines[start], lines[start + 2:end]
    column = header.index("outcome")
    outcomes = [line[column:].split(maxsplit=1)[0] for line in table if line[column:column + 1].isalpha()]
    assert len(outcomes) == KEPT_EVENTS
    shown = "\n".join(table)
    assert all(f"file:zz-broken-{n}.json" in shown for n in range(3))
    assert outcomes.count("error") == 4  # and the demo's order 1009, without SKU
    # The counts cover every event: "N orders read; 4 error, 2200 booked, ..."
    counted = sum(int(part.split()[0]) for part in lines[-1].split("; ")[1].split(", "))
    assert lines[end] == f"… and {counted - KEPT_EVENTS} more (`iexsync log search` has every one)"
