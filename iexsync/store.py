"""The SQLite log: events, transfers, intents, cursor, claims — one plain file anyone can open.

Schema changes go through sqlite-utils' Migrations, from the first version on.
WAL mode with synchronous=FULL: a commit that records a remote id survives a power cut.
Every write that belongs together happens in one `BEGIN IMMEDIATE` transaction, so a
kill at any instant leaves either the old state or the new, never half of each.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from iexsync import logsearch, migrations
from iexsync.errors import LogUnavailable
from iexsync.redaction import redact
from iexsync.timeutil import iso, utc_now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from iexsync.document import DocumentKind

# A claim older than this is stale even if its pid is alive again (pids are reused).
CLAIM_TTL = timedelta(hours=1)

OUTCOMES = logsearch.OUTCOMES

@dataclass(frozen=True)
class Transfer:
    """A document iexsync has written, as last seen."""

    reference: str
    order_id: str
    order_number: str
    kind: DocumentKind
    number: str
    remote_id: str
    booked: bool
    fingerprint: str
    totals: dict[str, str]
    refund_id: str = ""


@dataclass(frozen=True)
class Intent:
    """A remote write about to happen: committed before the call, closed with its result."""

    reference: str
    order_id: str
    order_number: str
    action: str  # create | update | book | credit
    kind: str
    fingerprint: str
    totals: dict[str, str]
    refund_id: str
    run: str


# Writers to one log file in one process take turns here before they ask SQLite for its write
# lock. The webhook receiver's threads and its worker each have a connection of their own, and a
# connection that finds the log locked waits in SQLite's busy handler, which sleeps 1, 2, 5, 10 ms
# and more between tries: a delivery's 200 waited up to 15 ms behind the worker's commits. On
# this lock the next writer starts the moment the last one commits. (Other processes, such as
# cron's run, are still kept apart by SQLite's lock and its busy timeout.)
_WRITERS: dict[str, threading.RLock] = {}
_WRITERS_GUARD = threading.Lock()


def _writers_of(path: Path) -> threading.RLock:
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(os.path.realpath(path), threading.RLock())


class Store:
    def __init__(self, path: Path, *, read_only: bool = False, busy_timeout_ms: int = 30_000):
        """`read_only`: opened so that nothing can be written (a dry run); a log that does
        not exist yet is then an empty one in memory, so the decisions are a first run's.
        `busy_timeout_ms`: how long a write waits for another writer before LogUnavailable."""
        self.path = path
        try:
            if read_only and not path.exists():
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            elif read_only:
                conn = logsearch.connect(path)  # mode=ro, as `log search` opens it
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            if not (read_only and path.exists()):
                migrations.apply(conn)
        except (sqlite3.Error, OSError) as exc:
            raise LogUnavailable(f"cannot open the log at {path}: {exc}; check the path and its permissions (log.path)") from None
        self.conn = conn
        self.read_only = read_only
        self.run = ""
        # One connection shared by the run's order threads: a transaction holds this lock
        # from BEGIN to COMMIT, so the log has one writer and no thread's statement lands
        # inside another's transaction.
        self._lock = threading.RLock()
        self._writers = _writers_of(path)
        self._busy_seconds = busy_timeout_ms / 1000

    def close(self) -> None:
        self.conn.close()

    # --- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: takes the write lock up front, so check-then-write is atomic."""
        if not self._writers.acquire(timeout=self._busy_seconds):
            raise LogUnavailable(f"the log at {self.path} cannot be written: another writer in this process "
                                 f"held it for {self._busy_seconds:g} s")
        try:
            with self._lock:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    raise LogUnavailable(f"the log at {self.path} cannot be written: {exc}") from None
                try:
                    yield
                except BaseException:
                    self._rollback()
                    raise
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise LogUnavailable(f"the log at {self.path} cannot be written: {exc} (disk full or read-only?)") from None
        finally:
            self._writers.release()

    def _rollback(self) -> None:
        """Undo what is left of the transaction: on a full disk SQLite has rolled it back
        already, and a ROLLBACK then would only hide the real error."""
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _rows(self, sql: str, params: Any = ()) -> list[tuple]:
        """A statement's rows, fetched whole under the lock (the connection is shared)."""
        with self._lock:
            return self._execute(sql, params).fetchall()

    def _one(self, sql: str, params: Any = ()) -> tuple | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """One statement; callers hold the lock (a transaction, or `_rows`)."""
        try:
            with self._lock:
                return self.conn.execute(sql, tuple(_storable(p) for p in params))
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "disk" in str(exc) or "unable to open" in str(exc):
                raise LogUnavailable(f"the log at {self.path} cannot be written: {exc}") from None
            raise

    # --- runs -------------------------------------------------------------------------------
    def begin_run(self) -> str:
        self.run = utc_now().strftime("%Y%m%dT%H%M%S") + "-" + os.urandom(3).hex()  # not uuid: it imports platform
        with self.transaction():
            self._execute(
                "INSERT INTO runs (run, started, pid) VALUES (?, ?, ?)", (self.run, iso(utc_now()), os.getpid())
            )
        return self.run

    def finish_run(self, counts: dict[str, int]) -> None:
        with self.transaction():
            self._execute(
                "UPDATE runs SET finished = ?, counts = ? WHERE run = ?", (iso(utc_now()), json.dumps(counts), self.run)
            )

    def fail_run(self, reason: str) -> None:
        """The run stopped before finishing, and why (secrets removed). Best effort: the
        reason may be that the log cannot be written."""
        if not self.run or self.read_only:
            return
        try:
            with self.transaction():
                self._execute("UPDATE runs SET error = ? WHERE run = ? AND finished IS NULL", (redact(reason), self.run))
        except (LogUnavailable, sqlite3.Error):
            pass

    # --- events -----------------------------------------------------------------------------
    def log(
        self,
        *,
        order_id: str,
        order_number: str,
        state: str,
        outcome: str,
        message: str,
        document_kind: str = "",
        document_number: str = "",
        document_booked: bool | None = None,
        email: str = "",
        source: Any = None,
        target: Any = None,
        signature: str | None = None,
        due: bool = False,
        config: str = "",
        seen: str = "",
    ) -> bool:
        """Append an event unless it repeats the order's last one (same signature).

        Must run inside `transaction()`. Returns whether a row was written. The order's
        status row remembers the signature, whether the order is due for a retry, and
        `seen`: the digest of the order as decided (see `unchanged`).
        """
        assert outcome in OUTCOMES, outcome
        row = self._one("SELECT signature FROM order_status WHERE order_id = ?", (order_id,))
        repeated = signature is not None and row is not None and row[0] == signature
        self._execute(
            "INSERT INTO order_status (order_id, order_number, signature, outcome, due, config, seen, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(order_id) DO UPDATE SET order_number = excluded.order_number, "
            "signature = excluded.signature, outcome = excluded.outcome, due = excluded.due, config = excluded.config, "
            "seen = excluded.seen, updated_at = excluded.updated_at",
            (order_id, order_number, signature or "", outcome, int(due), config, seen, iso(utc_now())),
        )
        if repeated:
            return False
        self._execute(
            "INSERT INTO events (time, run, order_id, order_number, state, outcome, document_kind, document_number, "
            "document_booked, message, email, source_digest, target_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                iso(utc_now()), self.run, order_id, order_number, state, outcome, document_kind, document_number,
                None if document_booked is None else int(document_booked), redact(message), email.lower(),
                self._payload(source), self._payload(target),
            ),
        )
        return True

    def _payload(self, value: Any) -> str | None:
        """Store a payload once (secrets removed), inside the caller's transaction; its digest.
        `value` may be a Payload made ready before the transaction (`payload()`)."""
        ready = value if isinstance(value, Payload) else payload(value)
        if ready is None:
            return None
        self._execute("INSERT OR IGNORE INTO payloads (digest, body) VALUES (?, ?)", (ready.digest, ready.body))
        return ready.digest

    def unchanged(self, order_id: str, seen: str, config: str) -> bool:
        """Whether the order was last decided exactly as it is now (same digest), under this
        config, and is not due: deciding it again would only repeat what the log holds."""
        return bool(seen) and self._one(
            "SELECT 1 FROM order_status WHERE order_id = ? AND seen = ? AND config = ? AND due = 0",
            (order_id, seen, config),
        ) is not None

    def last_outcomes(self, order_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Each order's last outcome and the message of its newest event with that outcome."""
        found: dict[str, tuple[str, str]] = {}
        for at in range(0, len(order_ids), 500):
            chunk = order_ids[at:at + 500]
            for order_id, outcome, message in self._rows(
                "SELECT s.order_id, s.outcome, (SELECT e.message FROM events e WHERE e.order_id = s.order_id "
                "AND e.outcome = s.outcome ORDER BY e.id DESC LIMIT 1) FROM order_status s "
                f"WHERE s.order_id IN ({','.join('?' * len(chunk))})", chunk):
                found[order_id] = (outcome, message or "")
        return found

    def record_seen(self, order_id: str, seen: str, config: str) -> None:
        """The order was decided as `seen` under `config` and is settled: remember it, when
        its events have not already (an order with nothing to log: booked, unchanged)."""
        if not seen or self.unchanged(order_id, seen, config):
            return
        with self.transaction():
            self._execute("UPDATE order_status SET seen = ?, config = ? WHERE order_id = ?", (seen, config, order_id))

    def due_orders(self, config: str) -> list[str]:
        """Orders to look at again: transient failures, and errors under an older config
        (an import's errors, decided under this config with its own start date
        (`<config>:from:<date>`), wait for the config to change too)."""
        base = config.split(":from:")[0]
        rows = self._rows(
            "SELECT order_id FROM order_status WHERE due = 1 OR (outcome = 'error' AND config != ? "
            "AND config NOT LIKE ?)", (base, f"{base}:from:%")
        )
        return [r[0] for r in rows]

    # --- transfers ------------------------------------------------------------------------
    _TRANSFER_COLUMNS = (
        "reference, order_id, order_number, kind, number, remote_id, booked, fingerprint, totals, refund_id"
    )

    def transfer(self, reference: str) -> Transfer | None:
        row = self._one(
            f"SELECT {self._TRANSFER_COLUMNS} FROM transfers WHERE reference = ?", (reference,)
        )
        return _transfer(row) if row else None

    def has_transfers(self) -> bool:
        return self._one("SELECT 1 FROM transfers LIMIT 1") is not None

    def transfers_for(self, order_id: str) -> list[Transfer]:
        rows = self._rows(
            f"SELECT {self._TRANSFER_COLUMNS} FROM transfers WHERE order_id = ? ORDER BY created_at", (order_id,)
        )
        return [_transfer(row) for row in rows]

    def failed_before(self, order_id: str) -> bool:
        """Whether any run logged an error for the order: a write of it may have got halfway."""
        return self._one("SELECT 1 FROM events WHERE order_id = ? AND outcome = 'error' LIMIT 1", (order_id,)) is not None

    def save_transfer(self, transfer: Transfer) -> None:
        """Inside the transaction that also logs the event and closes the intent."""
        from iexsync.document import DocumentKind

        now = iso(utc_now())
        self._execute(
            f"INSERT INTO transfers ({self._TRANSFER_COLUMNS}, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(reference) DO UPDATE SET "
            "order_number = excluded.order_number, number = excluded.number, remote_id = excluded.remote_id, "
            "booked = excluded.booked, fingerprint = excluded.fingerprint, totals = excluded.totals, "
            "updated_at = excluded.updated_at",
            (
                transfer.reference, transfer.order_id, transfer.order_number, DocumentKind(transfer.kind).value, transfer.number,
                transfer.remote_id, int(transfer.booked), transfer.fingerprint, json.dumps(transfer.totals),
                transfer.refund_id, now, now,
            ),
        )

    def delete_transfer(self, reference: str) -> None:
        """Inside a transaction: the document was removed from the accounting system (the
        draft of a cancelled order); the order may be transferred again later."""
        self._execute("DELETE FROM transfers WHERE reference = ?", (reference,))

    def transferred_since(self, since: str, after: str, limit: int) -> list[str]:
        """Up to `limit` ids of orders with a document transferred at or after `since`, in id
        order (numeric ids as numbers), after the id `after` ("": from the start); for
        `recheck`'s rotation."""
        order = "CAST(order_id AS INTEGER), order_id"
        where = "" if not after else f"HAVING ({order}) > (CAST(? AS INTEGER), ?)"
        params = (since, *((after, after) if after else ()), limit)
        return [row[0] for row in self._rows(
            f"SELECT order_id FROM transfers WHERE created_at >= ? GROUP BY order_id {where} ORDER BY {order} LIMIT ?",
            params)]

    # --- remembered: what connectors learnt in earlier runs (books.base.Memory) -------------
    def recall(self, key: str) -> str | None:
        try:
            row = self._one("SELECT value FROM remembered WHERE key = ?", (key,))
        except sqlite3.OperationalError:
            return None  # a dry run on a log from before this table: nothing remembered
        return row[0] if row else None

    def remembered_at(self, key: str) -> str | None:
        """When `key` was last remembered (ISO, UTC), if it was."""
        try:
            row = self._one("SELECT updated_at FROM remembered WHERE key = ?", (key,))
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def remember(self, key: str, value: str) -> None:
        if self.read_only:
            return  # a dry run writes nothing
        with self.transaction():
            self._execute("INSERT OR REPLACE INTO remembered (key, value, updated_at) VALUES (?, ?, ?)",
                          (key, value, iso(utc_now())))

    def forget(self, key: str) -> None:
        if self.read_only:
            return
        with self.transaction():
            self._execute("DELETE FROM remembered WHERE key = ?", (key,))

    # --- intents: written and committed before every remote write ---------------------------
    _INTENT_COLUMNS = "reference, order_id, order_number, action, kind, fingerprint, totals, refund_id, run"

    def open_intent(self, intent: Intent) -> None:
        with self.transaction():
            self._execute(
                f"INSERT OR REPLACE INTO intents ({self._INTENT_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    intent.reference, intent.order_id, intent.order_number, intent.action, intent.kind,
                    intent.fingerprint, json.dumps(intent.totals), intent.refund_id, intent.run, iso(utc_now()),
                ),
            )

    def close_intent(self, reference: str) -> None:
        """Inside the transaction that records the write's result."""
        self._execute("DELETE FROM intents WHERE reference = ?", (reference,))

    def open_intents(self) -> list[Intent]:
        rows = self._rows(f"SELECT {self._INTENT_COLUMNS} FROM intents ORDER BY created_at")
        return [Intent(*row[:6], json.loads(row[6] or "{}"), *row[7:]) for row in rows]

    def clear_due(self, order_id: str) -> None:
        """The order was looked at again and needs nothing more: stop fetching it every run."""
        with self.transaction():
            self._execute("UPDATE order_status SET due = 0 WHERE order_id = ? AND due = 1", (order_id,))

    def mark_due(self, order_id: str) -> None:
        """Inside a transaction: look at this order again in this run and the next."""
        self._execute(
            "INSERT INTO order_status (order_id, order_number, signature, outcome, due, config, updated_at) "
            "VALUES (?, '', '', '', 1, '', ?) ON CONFLICT(order_id) DO UPDATE SET due = 1, signature = ''",
            (order_id, iso(utc_now())),
        )

    # --- cursor ---------------------------------------------------------------------------
    def cursor(self, name: str) -> str | None:
        row = self._one("SELECT value FROM cursors WHERE name = ?", (name,))
        return row[0] if row else None

    def set_cursor(self, name: str, value: str) -> None:
        if self.cursor(name) == value:
            return  # an idle run's cursor stays where it was: no write
        with self.transaction():
            self._execute("INSERT OR REPLACE INTO cursors (name, value) VALUES (?, ?)", (name, value))

    # --- claims: even two writers could not both act on one order -------------------------
    def claim(self, order_id: str) -> bool:
        """Take the order for this run, unless a live run of another process holds it."""
        with self.transaction():
            if self.claimed_elsewhere(order_id):
                return False
            self._execute(
                "INSERT OR REPLACE INTO claims (order_id, run, pid, claimed_at) VALUES (?, ?, ?, ?)",
                (order_id, self.run, os.getpid(), iso(utc_now())),
            )
        return True

    def claimed_elsewhere(self, order_id: str) -> bool:
        """Whether a live run of another process holds the order (it may be mid-write)."""
        row = self._one("SELECT run, pid, claimed_at FROM claims WHERE order_id = ?", (order_id,))
        # Our own pid on another run's claim is a killed run's pid reused by us: not live.
        return (row is not None and row[0] != self.run and row[1] != os.getpid() and process_alive(row[1])
                and row[2] > iso(utc_now() - CLAIM_TTL))

    def release(self, order_id: str) -> None:
        with self.transaction():
            self._execute("DELETE FROM claims WHERE order_id = ? AND run = ?", (order_id, self.run))

    # --- the webhook inbox ------------------------------------------------------------------
    def enqueue_delivery(self, platform: str, delivery_id: str, order_id: str, topic: str, remote: str = "") -> str:
        """Record a verified delivery; 'queued', or 'duplicate' if this delivery was seen
        before or the order is already waiting. Committed before the caller answers 200."""
        with self.transaction():
            seen = delivery_id and self._one(
                "SELECT 1 FROM inbox WHERE platform = ? AND delivery_id = ? AND status IN ('queued', 'taken', 'done') LIMIT 1",
                (platform, delivery_id),
            )
            waiting = self._one(
                "SELECT 1 FROM inbox WHERE status = 'queued' AND platform = ? AND order_id = ? LIMIT 1", (platform, order_id)
            )
            status = "duplicate" if seen or waiting else "queued"
            reason = ("delivery seen before" if seen else "order already queued") if status == "duplicate" else ""
            self._insert_delivery(platform, delivery_id, order_id, topic, status, reason, remote)
        return status

    def reject_delivery(self, platform: str, reason: str, remote: str = "", delivery_id: str = "",
                        order_id: str = "") -> None:
        """`order_id`: the order the (unverified) body claims, so `log search` finds the rejection."""
        with self.transaction():
            self._insert_delivery(platform, delivery_id, order_id, "", "rejected", reason, remote)

    def _insert_delivery(self, platform: str, delivery_id: str, order_id: str, topic: str, status: str, reason: str,
                         remote: str) -> None:
        self._execute(
            "INSERT INTO inbox (platform, delivery_id, order_id, topic, status, reason, remote, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (platform, delivery_id, order_id, topic, status, redact(reason), remote, iso(utc_now())),
        )

    def queued_orders(self) -> list[str]:
        """Orders with deliveries not done yet: waiting, or taken by a run that may have died."""
        rows = self._rows("SELECT DISTINCT order_id FROM inbox WHERE status IN ('queued', 'taken') ORDER BY id")
        return [row[0] for row in rows]

    def take_deliveries(self) -> list[str]:
        """queued_orders(), marked taken by this run: a delivery arriving from here on is
        queued anew, not dropped as 'order already queued' (this run may have read the order
        before the change that delivery announces)."""
        if not self.queued_orders():
            return []  # nothing waits: no write (one arriving now is the next run's, or the worker's)
        with self.transaction():
            orders = self.queued_orders()
            self._execute("UPDATE inbox SET status = 'taken' WHERE status = 'queued'")
        return orders

    def finish_deliveries(self, order_ids: list[str]) -> None:
        """The orders were processed (or are due for a retry, which the log's status covers)."""
        if not order_ids:
            return
        with self.transaction():
            self.conn.executemany(
                "UPDATE inbox SET status = 'done', done_at = ? WHERE status = 'taken' AND order_id = ?",
                [(iso(utc_now()), order_id) for order_id in order_ids],
            )

    # --- keeping the log bounded (`iexsync log prune`) --------------------------------------
    # What exactly-once needs is never pruned: transfers (which documents exist), intents
    # (writes in flight), order_status (what was decided, what is due), cursors, claims and
    # what connectors remember. Of the history, each order keeps its newest event and its
    # newest error (whether an order ever failed decides whether a credit note is looked up
    # before it is written), and an order with a write in flight keeps all of it.
    _PRUNABLE_EVENTS = (
        "FROM events WHERE time < ? AND id NOT IN (SELECT max(id) FROM events GROUP BY order_id) "
        "AND id NOT IN (SELECT max(id) FROM events WHERE outcome = 'error' GROUP BY order_id) "
        "AND order_id NOT IN (SELECT order_id FROM intents)"
    )
    _PRUNABLE_DELIVERIES = "FROM inbox WHERE received_at < ? AND status NOT IN ('queued', 'taken')"
    _PRUNABLE_RUNS = "FROM runs WHERE started < ? AND run != (SELECT max(run) FROM runs)"

    def rows(self, sql: str, params: Any = ()) -> list[tuple]:
        """A read-only statement's rows (for reports such as `status.collect`)."""
        return self._rows(sql, params)

    def prune(self, before: str, *, dry_run: bool = False) -> dict[str, int]:
        """Remove history older than `before` (an ISO time) that exactly-once does not need;
        how many events, payloads, deliveries and runs went (or would go)."""
        counts: dict[str, int] = {}
        unused = ("payloads", "FROM payloads WHERE digest NOT IN (SELECT source_digest FROM events WHERE source_digest "
                  "IS NOT NULL UNION SELECT target_digest FROM events WHERE target_digest IS NOT NULL)", ())
        try:
            with self.transaction():
                for name, where, params in (("events", self._PRUNABLE_EVENTS, (before,)),
                                            ("webhook deliveries", self._PRUNABLE_DELIVERIES, (before,)),
                                            ("runs", self._PRUNABLE_RUNS, (before,)), unused):
                    counts[name] = self._execute(f"DELETE {where}", params).rowcount
                if dry_run:
                    raise _Undo()
        except _Undo:
            return counts
        if not dry_run:
            with self._lock:
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.conn.execute("VACUUM")  # give the space back to the disk
        return counts

    # --- search ---------------------------------------------------------------------------
    def search(self, query: str, limit: int = 200) -> list[dict[str, Any]]:
        """By order number first, then order id, e-mail, document number, then words in messages
        (logsearch.search, on this store's connection)."""
        return logsearch.search(self._rows, query, limit)


class _Undo(Exception):
    """Rolls a transaction back on purpose (a dry run's prune)."""


def process_alive(pid: int) -> bool:
    """status.process_alive, its module imported only when a claim is found."""
    from iexsync import status

    return status.process_alive(pid)


def _storable(value: Any) -> Any:
    return logsearch.storable(value) if isinstance(value, str) else value


def _transfer(row: tuple) -> Transfer:
    from iexsync.document import DocumentKind  # not at the top: an idle run reads no transfer

    values = list(row)
    values[3] = DocumentKind(values[3])
    values[6] = bool(values[6])
    values[8] = json.loads(values[8] or "{}")
    return Transfer(*values)


@dataclass(frozen=True)
class Payload:
    """An event's payload as the log keeps it: JSON, secrets removed, with its digest."""

    digest: str
    body: str


def payload(value: Any) -> Payload | None:
    """`value` made ready to be logged. Done before the transaction that logs it (a whole
    order's JSON takes a millisecond to dump and redact): the log's write lock is held only
    for the writing, and the webhook receiver's deliveries, which wait for that lock, wait less."""
    body = _dump(value)
    if body is None:
        return None
    body = logsearch.storable(body)
    return Payload(hashlib.sha256(body.encode()).hexdigest()[:32], body)


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    return redact(value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
