"""The reliability suite's tally: each test adds its counts (runs, kills, faults injected,
duplicates, lost, ...) to a session-wide collector; the table is printed at the end of
the pytest run, and written as JSON to $IEXSYNC_RELIABILITY_REPORT when that is set.

    pytest tests/reliability                 # the fast subset
    pytest -m slow tests/reliability         # the full sizes
    IEXSYNC_RELIABILITY_REPORT=report.json pytest -m slow tests/reliability
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.support import COLLECTOR, COLUMNS, Tally

REPORT_ENV = "IEXSYNC_RELIABILITY_REPORT"


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    name = request.node.nodeid.split("tests/reliability/", 1)[-1]
    counter = Tally(name)
    started = time.monotonic()
    yield counter
    counter.row.seconds += time.monotonic() - started


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        name = item.nodeid.split("tests/reliability/", 1)[-1]
        if name in COLLECTOR.rows:
            state = "xfail" if hasattr(report, "wasxfail") else report.outcome
            COLLECTOR.rows[name].outcome = state


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not COLLECTOR.rows:
        return
    from tabulate import tabulate

    rows = []
    for row in COLLECTOR.rows.values():
        rows.append([row.name[:78], row.outcome, *(row.counts.get(c, 0) for c in COLUMNS), f"{row.seconds:.1f}"])
    totals = COLLECTOR.totals()  # every row: an xfail's duplicates are real duplicates too
    rows.append(["TOTAL (every row)", "", *(totals.get(c, 0) for c in COLUMNS),
                 f"{sum(r.seconds for r in COLLECTOR.rows.values()):.1f}"])
    terminalreporter.section("iexsync reliability")
    terminalreporter.write_line(tabulate(rows, headers=["test", "result", *COLUMNS, "s"]))
    notes = [(row.name, note) for row in COLLECTOR.rows.values() for note in row.notes]
    for name, note in notes:
        terminalreporter.write_line(f"  {name}: {note}")
    path = os.environ.get(REPORT_ENV)
    if path:
        Path(path).write_text(json.dumps(COLLECTOR.as_json(), indent=2))
        terminalreporter.write_line(f"written to {path}")
