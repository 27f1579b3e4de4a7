"""`iexsync status`: whether all is well, read from the log alone, for a person or a monitor.

What the last run did and when, the cursor, orders waiting for a retry, orders in error and
orders whose last word is a warning asking for action, webhook deliveries not yet taken.
Read-only (the log opened `mode=ro`, as `log search` opens it), so a monitor may run it as
often as it likes beside cron. The exit code says whether a human is needed: 0 nothing,
1 an order in error or a warning that asks for action, 75 no run finished within the
threshold (cron stopped, or every run fails before finishing) — 75 first, since then the
rest may be out of date.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from iexsync.logsearch import Rows

EXIT_OK, EXIT_NEEDS_A_HUMAN, EXIT_STALE = 0, 1, 75


def collect(rows: Rows, now: datetime, stale_after: int) -> dict[str, Any]:
    """The report as a JSON-ready dict; `stale_after` in seconds."""
    # A log no run of this version has opened has no `error` column (status never migrates).
    has_error = any(row[1] == "error" for row in rows("PRAGMA table_info(runs)", ()))
    columns = "run, started, finished, counts, pid, " + ("error" if has_error else "NULL")
    runs = [_run(row) for row in rows(f"SELECT {columns} FROM runs ORDER BY run DESC LIMIT 20", ())]
    last = runs[0] if runs else None
    finished = next((run for run in runs if run["finished"] and not run["error"]), None)
    if finished is None and runs:  # older than the 20 newest
        found = rows(f"SELECT {columns} FROM runs WHERE finished IS NOT NULL ORDER BY run DESC LIMIT 1", ())
        finished = _run(found[0]) if found else None
    age = None
    if finished is not None:
        age = int((now - datetime.fromisoformat(finished["finished"])).total_seconds())
    attention = rows(
        "SELECT s.order_id, s.order_number, s.outcome, s.due, "
        "(SELECT e.time || char(31) || e.state || char(31) || e.message FROM events e WHERE e.order_id = s.order_id "
        " AND e.outcome = s.outcome ORDER BY e.id DESC LIMIT 1) "
        "FROM order_status s WHERE s.outcome IN ('error', 'warning') OR s.due = 1 ORDER BY s.updated_at", ())
    retrying, errors, warnings = [], [], []
    for order_id, number, outcome, due, last_event in attention:
        time, state, message = (last_event or "\x1f\x1f").split("\x1f", 2)
        entry = {"order": number or order_id, "order_id": order_id, "state": state, "time": time or None,
                 "message": message.strip().splitlines()[0] if message.strip() else ""}
        if due:
            retrying.append(entry)
        elif outcome == "error":
            errors.append(entry)
        elif outcome == "warning":
            warnings.append(entry)
    cursors = {name: value for name, value in rows("SELECT name, value FROM cursors ORDER BY name", ())}
    waiting = rows("SELECT count(*) FROM inbox WHERE status IN ('queued', 'taken')", ())[0][0]
    stale = age is None or age > stale_after
    code = EXIT_STALE if stale else EXIT_NEEDS_A_HUMAN if errors or warnings else EXIT_OK
    return {
        "status": {EXIT_OK: "ok", EXIT_NEEDS_A_HUMAN: "needs attention", EXIT_STALE: "stale"}[code],
        "exit_code": code,
        "last_run": last,
        "last_finished_run": finished,
        "seconds_since_last_finished_run": age,
        "stale_after_seconds": stale_after,
        "cursors": cursors,
        "retrying": retrying,
        "errors": errors,
        "warnings": warnings,
        "webhooks_waiting": waiting,
    }


def _run(row: tuple) -> dict[str, Any]:
    import json  # not at the top: `log search` takes local_time from here, and json is a twentieth of its start

    run, started, finished, counts, pid, error = row
    if finished and not error:
        ended = "finished"
    elif error:
        ended = "failed"
    elif process_alive(pid):
        ended = "running"
    else:
        ended = "interrupted"
    return {"run": run, "started": started, "finished": finished, "ended": ended,
            "counts": json.loads(counts) if counts else {}, "error": error or None}


def process_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (ours counts; another user's too). Here, not in
    `store`, so `status` reads the log without the store's write side."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_time(text: str | None) -> str:
    """An ISO time from the log (UTC) in this machine's time zone, to the second."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def lines(report: dict[str, Any]) -> list[str]:
    """The report for a person: one fact a line, the orders to look at under their heading."""
    out = []
    last, finished = report["last_run"], report["last_finished_run"]
    if last is None:
        out.append("last run:     none recorded")
    else:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(last["counts"].items())) or "nothing new"
        said = counts if last["ended"] == "finished" else (last["error"] or "") if last["ended"] == "failed" else ""
        out.append(f"last run:     {local_time(last['started'])} {last['ended']}" + (f": {said}" if said else ""))
    if finished is not last:
        out.append(f"last finished: {local_time(finished['finished']) if finished else 'never'}")
    out.append(f"finished:     {ago(report['seconds_since_last_finished_run'])}"
               + (" — older than the threshold" if report["status"] == "stale" else ""))
    for name, value in report["cursors"].items():
        out.append(f"cursor:       {name} at {local_time(value)}")
    out.append(f"webhooks:     {report['webhooks_waiting']} deliveries waiting")
    for key, heading in (("errors", "in error"), ("warnings", "warnings asking for action"),
                         ("retrying", "waiting for a retry")):
        entries = report[key]
        out.append(f"{heading}: {len(entries)}")
        out += [f"  order {e['order']}: {e['message']}" for e in entries]
    out.append(f"status:       {report['status']}")
    return out
