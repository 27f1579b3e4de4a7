"""What `sync` and `log search` do and print, without click: both ways into them share this.

`cli.py` reads every command line with click; `__main__.py` reads the two that run most
often (cron's `sync`, support's `log search`) itself, so those start without importing
click. Either way the command is one of these functions, which load the config, call
`service` and print through the `echo` they are given; a UserError goes up to the caller's
one handler. `log search` takes the log's path from what is remembered about a config that
passed (`configfiles`), so it starts without the config's machinery either. Every table
iexsync prints (the run summary, the search, `states`) is `table` below rather than
tabulate, which reads its own version from the installed packages' metadata on import:
that costs a search more than the search does.
"""

from __future__ import annotations

import sys
import textwrap

from iexsync.errors import EXIT_INTERRUPTED, EXIT_ORDER_ERRORS

TYPE_CHECKING = False  # typing itself is not imported: `log search` starts without it
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path
    from typing import Any

    from iexsync.config import Settings

    Echo = Callable[..., None]  # echo(text, err=False)

SEARCH_KEYS = ("time", "order", "state", "outcome", "document", "message")


def configure_logging(verbosity: int) -> None:
    """What libraries may say on stderr. -q (-1): errors only; default (0) and -v (1): our
    warnings (a mail that could not go), never a library's retry noise (a retry is ours to
    report, as the order's outcome); -vv (2): every HTTP request and answer (secrets and
    queries removed by http.py's filter)."""
    import logging

    class Stderr(logging.StreamHandler):  # whatever sys.stderr is when a record comes
        @property  # type: ignore[override]
        def stream(self) -> Any:
            return sys.stderr

        @stream.setter
        def stream(self, _value: Any) -> None:
            pass

    def redacted(record: logging.LogRecord) -> bool:  # whatever a library logs, no secret leaves
        from iexsync.redaction import redact

        record.msg, record.args = redact(record.getMessage()), ()
        return True

    handler = Stderr()
    handler.addFilter(redacted)
    handler.setFormatter(logging.Formatter("%(message)s" if verbosity < 2 else "%(asctime)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR if verbosity < 0 else logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbosity >= 2 else logging.CRITICAL)
    logging.getLogger("iexsync").setLevel(logging.DEBUG if verbosity >= 2 else logging.ERROR if verbosity < 0 else logging.WARNING)


def settings(config_path: Path | str, echo: Echo) -> Settings:
    """The config, loaded and checked; a warning if it holds secrets others can read."""
    from iexsync import config

    loaded = config.load(config_path)
    _warn_if_others_can_read(config_path, loaded.holds_secrets, echo)
    return loaded


def _warn_if_others_can_read(config_path: Path | str, holds_secrets: bool, echo: Echo) -> None:
    from pathlib import Path

    from iexsync import configfiles

    warning = configfiles.permission_warning(Path(config_path), holds_secrets)
    if warning:
        echo(warning, err=True)


def sync(config_path: Path | str, *, dry_run: bool, order_ids: list[str] | None, verbose: bool | int, echo: Echo,
         as_json: bool = False, quiet: bool = False) -> int:
    """One run; quiet on success when not on a terminal (cron), but saying what failed.
    `verbose` 2 (-vv) adds every HTTP request and answer; `quiet` prints errors only."""
    from iexsync import service

    configure_logging(-1 if quiet else int(verbose))

    loaded = settings(config_path, echo)
    result = service.sync(loaded, dry_run=dry_run, order_ids=order_ids)
    if dry_run:  # stdout is the JSON alone, for a script; the summary goes to stderr
        import json

        echo(json.dumps(result.planned, indent=2, ensure_ascii=False))
        _summary(result, lambda text: echo(text, err=True))
    elif as_json:
        import json

        echo(json.dumps(summary_json(result), indent=2, ensure_ascii=False))
    elif not quiet and (verbose or order_ids or sys.stdout.isatty()):
        _summary(result, echo)
    else:
        for line in needs_a_human(result.events):
            if not quiet or ": warning: " not in line:
                echo(line, err=True)
    still_in_error = False
    if order_ids and not dry_run:
        lines, still_in_error = _last_outcomes(loaded, order_ids, result)
        for line in lines:
            echo(line, err=as_json or quiet)  # stdout stays JSON alone; -q says errors on stderr
    return EXIT_ORDER_ERRORS if result.errors or still_in_error else 0


def summary_json(result: Any) -> dict[str, Any]:
    """The run's summary for a script: what `_summary` prints as a table."""
    return {"run": result.run, "orders_seen": result.orders_seen, "counts": dict(result.counts), "busy": result.busy,
            "events": [{"order": e.order, "state": e.state, "outcome": e.outcome, "document": e.document,
                        "message": e.message} for e in result.events],
            "events_not_kept": result.events_not_kept}


def _last_outcomes(loaded: Settings, order_ids: list[str], result: Any) -> tuple[list[str], bool]:
    """For `sync --order`, which always shows the order's outcome: each order this run had
    nothing new to say about, with its last outcome; and whether one of them is in error."""
    from iexsync import logsearch, service

    said = {event.order for event in result.events}
    lines, in_error = [], False
    for order_id in service.resolve_orders(loaded, order_ids).values():
        last = service.read_log(loaded.log_path, lambda rows: logsearch.search(rows, order_id, 1))
        if last and last[0]["order"] not in said and order_id not in said:
            event = last[0]
            in_error = in_error or event["outcome"] == "error"
            document = f" ({event['document']})" if event["document"] else ""
            lines.append(f"order {event['order']}: nothing new; last {event['outcome']}{document}: {event['message']}")
    return lines, in_error


NEEDS_A_HUMAN = ("error", "warning")


def needs_a_human(events: Sequence[Any]) -> list[str]:
    """The run's new errors and warnings, one line each, for cron to mail. A warning asks for
    action (a booked invoice whose order changed, a refund waiting for a booking, a draft left
    behind), so it is said even when nothing failed; each is said once, as the log writes a
    repeated event only once."""
    lines = []
    for event in events:
        if event.outcome in NEEDS_A_HUMAN:
            document = f" ({event.document})" if event.document else ""
            label = "warning: " if event.outcome == "warning" else ""
            lines.append(f"order {event.order}{document}: {label}{event.message}")
    return lines


def import_orders(config_path: Path | str, start: Any, end: Any, *, dry_run: bool, as_json: bool, echo: Echo,
                  progress: Callable[[], Any] | None = None, quiet: bool = False) -> int:
    """The orders created from `start` to `end`, and a closing report; a progress bar (from
    `progress()`, a context manager with update(n) and length) only when one is given.
    Stopped by Ctrl-C or SIGTERM: the orders in flight finish, exit 130. `quiet` (-q): only
    the failures of the report, on stderr."""
    import threading

    from iexsync import importer

    stop = threading.Event()
    with _stopping_on_signals(stop):
        if progress is None:
            report = importer.run_import(settings(config_path, echo), start, end, dry_run=dry_run, stop=stop)
        else:
            loaded = settings(config_path, echo)
            state: dict[str, Any] = {}

            def on_total(total: int) -> None:
                state["bar"] = progress(total)
                state["bar"].__enter__()

            try:
                report = importer.run_import(loaded, start, end, dry_run=dry_run, stop=stop, on_total=on_total,
                                             on_order=lambda: state["bar"].update(1))
            finally:
                if "bar" in state:
                    state["bar"].__exit__(None, None, None)
    if as_json:
        import json

        echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif quiet:
        lines = import_report(report, start, end)
        failed = next((i for i, line in enumerate(lines) if line.startswith("  failed: ")), len(lines))
        for line in lines[failed:failed + 1 + len(report.failed)] if report.failed else []:
            echo(line.strip() if line.startswith("  failed") else line, err=True)
    else:
        for line in import_report(report, start, end):
            echo(line)
    if report.interrupted:
        echo(f"interrupted: {report.seen} done, the next run carries on", err=True)
        return EXIT_INTERRUPTED
    return EXIT_ORDER_ERRORS if report.failed else 0


def import_report(report: Any, start: Any, end: Any) -> list[str]:
    """The closing report: how many orders, what became of them, the numbers to look at."""
    window = f"{start} to {end}" if end else f"from {start}"
    lines = [f"import of the orders created {window}" + (" (dry run: nothing written)" if report.dry_run else "")
             + f": {report.seen} orders"]
    lines.append(f"  transferred: {len(report.transferred)}")
    lines.append(f"  already done by an earlier run: {report.unchanged}")
    skipped = sum(len(numbers) for numbers in report.skipped.values())
    lines.append(f"  skipped: {skipped}")
    lines += [f"    {reason}: {_numbers(numbers)}" for reason, numbers in sorted(report.skipped.items())]
    failed = sum(len(numbers) for numbers in report.failed.values())
    lines.append(f"  failed: {failed}" + (" (`iexsync log show ORDER` says why)" if failed else ""))
    lines += [f"    {cause}: {_numbers(numbers)}" for cause, numbers in sorted(report.failed.items())]
    if report.warnings:
        lines.append(f"  warnings: {len(report.warnings)}")
        lines += [f"    {warning}" for warning in report.warnings[:50]]
    return lines


def _numbers(numbers: list[str], at_most: int = 30) -> str:
    numbers = sorted(numbers, key=lambda n: (len(n), n))  # 998 before 1001: in the order a person looks them up
    shown = ", ".join(numbers[:at_most])
    return shown + (f" and {len(numbers) - at_most} more" if len(numbers) > at_most else "")


class _stopping_on_signals:
    """While inside: Ctrl-C or SIGTERM sets `stop` (the orders in flight finish); a second
    Ctrl-C stops at once."""

    def __init__(self, stop: Any):
        self.stop = stop
        self.previous: dict[int, Any] = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        import signal

        if self.stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop.set()

    def __enter__(self) -> None:
        import signal

        for signum in (signal.SIGINT, signal.SIGTERM):
            self.previous[signum] = signal.signal(signum, self._handle)

    def __exit__(self, *exc: Any) -> None:
        import signal

        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def _summary(result: Any, echo: Echo) -> None:
    width = terminal_width()

    def said(line: str) -> None:
        echo(line if width is None else "\n".join(fitted_line(line, width)))

    if result.events:
        rows = [(e.order, e.state, e.outcome, e.document, e.message) for e in result.events]
        echo(table(rows, ("order", "state", "outcome", "document", "message"), [None, None, None, None, 70], fit=width))
    if result.events_not_kept:
        said(f"… and {result.events_not_kept} more (`iexsync log search` has every one)")
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(result.counts.items()))
    said(f"{result.orders_seen} orders read; {counts or 'nothing new'}" + (f"; {result.busy} held by another run" if result.busy else ""))


def log_path(config_path: Path | str, echo: Echo) -> str:
    """The log's path: from what is remembered about a config that passed, without reading
    the config again; else from the config, read and checked in full (and remembered)."""
    from iexsync import configfiles

    remembered = configfiles.remembered_log(config_path)
    if remembered is None:
        return str(settings(config_path, echo).log_path)
    path, holds_secrets = remembered
    _warn_if_others_can_read(config_path, holds_secrets, echo)
    return path


def status(config_path: Path | str, *, as_json: bool, stale_after: int, echo: Echo, quiet: bool = False) -> int:
    """Whether all is well: 0 nothing needs a human, 1 an order does, 75 no recent run;
    `quiet` (-q): nothing printed when all is well (the exit code says it)."""
    from iexsync import service
    from iexsync import status as report

    found = service.status(log_path(config_path, echo), stale_after)
    if quiet and found["exit_code"] == 0:
        return 0
    if as_json:
        import json

        echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        width = terminal_width()
        lines = report.lines(found)
        echo("\n".join(lines if width is None else [part for line in lines for part in fitted_line(line, width)]))
    return found["exit_code"]


def fitted_line(line: str, width: int) -> list[str]:
    """A line of a report in lines of at most `width`, wrapped at words, the rest indented
    under the first's text (a word longer than that is broken with a marker)."""
    if len(line) <= width:
        return [line]
    indent = " " * min(len(line) - len(line.lstrip()) + 2, width // 2)
    wrapper = _Wrapper(width=width, subsequent_indent=indent, break_on_hyphens=False)
    wrapper.marker = "…"
    return wrapper.wrap(line)


def log_search(config_path: Path | str, query: str | None, *, as_json: bool, limit: int, echo: Echo,
               filters: dict[str, str] | None = None, tablefmt: str | None = None) -> int:
    """The order's history, newest first, as a table or a JSON list. `filters`: see
    logsearch.search (`since` an ISO time)."""
    from iexsync import service

    rows = service.search(log_path(config_path, echo), query, limit, filters)
    if as_json:
        import json

        echo(json.dumps([{k: row[k] for k in SEARCH_KEYS} for row in rows], indent=2, ensure_ascii=False))
    elif not rows:
        echo(f"nothing in the log matches {query!r}" if query is not None else "nothing in the log matches")
    else:
        from iexsync.status import local_time

        cells = [[local_time(row["time"])] + [row[k] for k in SEARCH_KEYS[1:]] for row in rows]
        echo(table(cells, SEARCH_KEYS, [None] * 5 + [70], fit=terminal_width(), tablefmt=tablefmt))
    return 0


def terminal_width() -> int | None:
    """How wide a table may be: $COLUMNS when set (a script or a narrow window can ask),
    else the terminal's width when stdout is one; else None (a pipe: tables as they are)."""
    import os

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def log_show(config_path: Path | str, order: str, *, as_json: bool, echo: Echo) -> int:
    """One order's whole history (history.py), oldest first."""
    from iexsync import history, service, status

    found = service.history(log_path(config_path, echo), order)
    if as_json:
        import json

        echo(json.dumps(found, indent=2, ensure_ascii=False))
    else:
        echo("\n".join(history.lines(found, status.local_time)))
    return 0


# --- a table in tabulate's "simple" layout ---------------------------------------------
# A header over dashes, columns two spaces apart, whole numbers aligned right and everything
# else left, one column wrapped at a width: what tabulate prints for such rows (a test
# holds it to that). Text is shown as stored (tabulate would reformat a cell that looks
# like a decimal number).

class _Wrapper(textwrap.TextWrapper):
    marker = ""  # "…": a cut word says so (a table fitted to a terminal)

    def _handle_long_word(self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int) -> None:
        # A word longer than a line is cut where the line ends (tabulate's way: not at a hyphen).
        space_left = 1 if width < 1 else width - cur_len
        if self.marker and cur_line:
            return  # marked mode: the long word starts the next line, not the end of this one
        if self.marker and space_left > 1:
            chunk = reversed_chunks[-1]
            cur_line.append(chunk[:space_left - 1] + self.marker)
            reversed_chunks[-1] = chunk[space_left - 1:]
        elif self.break_long_words and space_left > 0:
            chunk = reversed_chunks[-1]
            cur_line.append(chunk[:space_left])
            reversed_chunks[-1] = chunk[space_left:]
        elif not cur_line:
            cur_line.append(reversed_chunks.pop())


def _wrap(text: str, width: int, marker: str = "") -> str:
    wrapper = _Wrapper(width=width)
    wrapper.marker = marker
    return "\n".join("\n".join(wrapper.wrap(line)) for line in text.splitlines() if line.strip())


def _is_whole_number(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _fitted(cells: list[list[str]], headers: Sequence[str], widths: Sequence[int | None],
            fit: int) -> tuple[list[int | None], int]:
    """Each column's width, and the room kept beside a header, so that the table is at most
    `fit` wide. Only when it would be wider: the two spaces tabulate keeps beside each
    header go first; then the columns with a width in `widths` (the messages) give up room,
    down to 10; then the widest other text column, down to its longest word (a time wraps
    between date and hour), then to its header. Whole numbers (order numbers, counts) are
    never wrapped. A column narrower than its text wraps at words in its own column; a word
    longer than the column is broken with a marker (…) and goes on on the next line."""
    count = len(headers)
    wanted = list(widths) + [None] * (count - len(widths))
    budget = fit - 2 * (count - 1)

    def natural(pad: int) -> list[int]:
        return [max([len(headers[i]) + pad] + [len(line) for row in cells for line in (row[i].splitlines() or [""])])
                for i in range(count)]

    pad = 2
    now = [min(n, w) if w is not None else n for n, w in zip(natural(pad), wanted)]
    if sum(now) <= budget:
        return wanted, pad
    pad = 0
    full = natural(pad)
    now = [min(n, w) if w is not None else n for n, w in zip(full, wanted)]
    numeric = [bool(filled) and all(_is_whole_number(v) for v in filled)
               for filled in ([row[i] for row in cells if row[i]] for i in range(count))]
    longest_word = [max([0] + [len(word) for row in cells for word in row[i].split()]) for i in range(count)]
    for floor_of in (lambda i: max(10, len(headers[i])) if wanted[i] is not None else None,
                     lambda i: max(len(headers[i]), longest_word[i]),  # wrapped at words only
                     lambda i: max(len(headers[i]), 3),  # a word broken too, with a marker
                     lambda i: 3):  # the header too: a terminal narrower than the headers
        while sum(now) > budget:
            shrinkable = [i for i in range(count) if not numeric[i] and floor_of(i) is not None and now[i] > floor_of(i)]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda i: now[i])
            now[widest] -= min(sum(now) - budget, now[widest] - floor_of(widest))
    return [now[i] if now[i] < full[i] else wanted[i] for i in range(count)], pad


TABLE_FORMATS = ("simple", "plain", "github", "grid", "pipe", "orgtbl", "rst", "html", "tsv")


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], widths: Sequence[int | None] = (),
          fit: int | None = None, tablefmt: str | None = None) -> str:
    """`rows` under `headers`; a column with a width in `widths` is wrapped at it (words kept
    whole where they fit); with `fit`, the table is at most that many characters wide
    (`_fitted`). None is shown empty. `tablefmt` other than "simple": tabulate's layout of
    that name (for pasting into a ticket), tabulate imported only then."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    pad = 2  # beside each header, as tabulate keeps it
    pasted = bool(tablefmt) and tablefmt != "simple"  # for a ticket: its own width, not this terminal's
    if fit is not None and not pasted:
        widths, pad = _fitted(cells, headers, widths, fit)
        headers = [h if w is None or len(h) <= w else h[:w - 1] + "…" for h, w in zip(headers, list(widths) + [None] * len(headers))]
    if pasted:
        from tabulate import tabulate

        return tabulate(cells, headers=list(headers), tablefmt=tablefmt, disable_numparse=True,
                        maxcolwidths=list(widths) + [None] * (len(headers) - len(widths)) if widths else None)
    for index, width in enumerate(widths):
        if width is not None:
            for row in cells:
                row[index] = _wrap(row[index], width, "…" if fit is not None else "")
    columns = []
    for index, header in enumerate(headers):
        lines = [(row[index].strip().splitlines() or [""]) for row in cells]
        filled = [row[index] for row in cells if row[index]]
        right = bool(filled) and all(_is_whole_number(value) for value in filled)
        width = max([len(header) + pad] + [len(line) for cell in lines for line in cell])
        columns.append((lines, width, right))
    out = [
        "  ".join((h.rjust(w) if right else h.ljust(w)) for h, (_, w, right) in zip(headers, columns)).rstrip(),
        "  ".join("-" * w for _, w, _ in columns).rstrip(),
    ]
    for number in range(len(cells)):
        height = max(len(lines[number]) for lines, _, _ in columns)
        for line in range(height):
            parts = []
            for lines, width, right in columns:
                cell = lines[number]
                text = cell[line] if line < len(cell) else ""
                parts.append(text.rjust(width) if right else text.ljust(width))
            out.append("  ".join(parts).rstrip())
    return "\n".join(out)
