"""Tables and reports fit the terminal (issue 12): on a pseudo-terminal of a given width and
with $COLUMNS, every line of `states`, `status`, `log search` and the sync summary fits; a
message wraps at words in its own column (a word too long for it is broken with a marker),
so reading the column top to bottom gives the message back. Through a pipe without
$COLUMNS, tables are as wide as their text (tabulate's layout, for scripts and tickets)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_process
from tests.test_output import _on_a_terminal

MESSAGE_1009 = ("line 2 'Gravering af navn (service)' has no SKU; give the product a SKU in the shop "
                "(or set transfer.require_sku: false)")


def _column(text: str, header: str) -> str:
    """The column under `header` read top to bottom, its wrapped lines joined again (a line
    broken with the marker joins without a space)."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if re.match(r"\s*\S+\s", line) and header in line.split())
    dashes = lines[top + 1]
    spans = [m.span() for m in re.finditer(r"-+", dashes)]
    start = lines[top].index(header)
    begin, end = next(span for span in spans if span[0] <= start < span[1] or span[0] >= start)
    last = end if (begin, end) != spans[-1] else None
    pieces = [piece for piece in (line[begin:last].strip() for line in lines[top + 2:]) if piece]
    joined = ""
    for piece in pieces:
        joined = joined[:-1] + piece if joined.endswith("…") else (joined + " " + piece if joined else piece)
    return joined


def _fits(text: str, columns: int) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) > 2, text
    assert max(len(line) for line in lines) <= columns, "\n" + "\n".join(line for line in lines if len(line) > columns)


@pytest.mark.parametrize("columns", [44, 64])
def test_tables_fit_a_narrow_terminal_and_messages_wrap_in_their_column(demo: Path, columns: int) -> None:
    run_process("sync", "--config", demo)
    search = _on_a_terminal(["log", "search", "1009", "--config", str(demo)], columns)
    _fits(search, columns)
    assert _column(search, "message") == MESSAGE_1009, search  # words whole, or broken with the marker
    assert _column(search, "state") == "completed"
    states = _on_a_terminal(["states", "--config", str(demo)], columns)
    _fits(states, columns)
    assert "completed" in states.split() and "processing" in states.split()  # short words never cut
    status = _on_a_terminal(["status", "--config", str(demo)], columns)
    _fits(status, columns)
    said = " ".join(line.strip() for line in status.split("in error: 1\n")[1].split("warnings asking")[0].splitlines())
    assert said == f"order 1009: {MESSAGE_1009}"  # the whole first line of the message, wrapped
    (demo.parent / "iexsync.db").unlink()
    summary = _on_a_terminal(["sync", "--config", str(demo)], columns)  # the summary table on a terminal
    _fits(summary, columns)
    assert "orders read" in summary and MESSAGE_1009.split(";")[0].split()[-1] in summary


def test_columns_in_the_environment_fits_tables_through_a_pipe_too(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    for args in (["log", "search", "1009"], ["states"], ["status"], ["log", "search", "invoice"]):
        narrow = cli(*args, "--config", demo, env={"COLUMNS": "50"})
        _fits(narrow.output, 50)
        wide = run_process(*args, "--config", demo, env={"COLUMNS": ""})  # a pipe, no COLUMNS: as wide as it is
        if args[-1] != "states":
            assert max(len(line) for line in wide.stdout.splitlines()) > 80, wide.stdout
    assert _column(cli("log", "search", "1009", "--config", demo, env={"COLUMNS": "50"}).output, "message") == MESSAGE_1009
    processed = run_process("log", "search", "1009", "--config", demo, env={"COLUMNS": "58"})  # the short way in
    _fits(processed.stdout, 58)
    assert _column(processed.stdout, "message") == MESSAGE_1009
    (demo.parent / "iexsync.db").unlink()
    summary = cli("sync", "--config", demo, "-v", env={"COLUMNS": "60"})
    _fits(summary.output, 60)
    assert _column(summary.output, "message").count("has no SKU") == 1


def test_a_layout_for_pasting_is_not_fitted_to_the_terminal(demo: Path, cli) -> None:
    cli("sync", "--config", demo)
    github = cli("log", "search", "1009", "--config", demo, "--format", "github", env={"COLUMNS": "40"}).output
    lines = github.splitlines()
    assert lines[0].startswith("| time") and "| message" in lines[0] and "…" not in github
    assert all(line.startswith("|") for line in lines) and max(len(line) for line in lines) > 80
