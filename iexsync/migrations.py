"""The log's schema, as sqlite-utils Migrations: each step applied once, in order, recorded
in `_sqlite_migrations`. Add a step at the end; never change one that has shipped.

sqlite-utils is imported only when a step is pending, so an up-to-date log opens fast.
"""

from __future__ import annotations

import sqlite3
from typing import Any

SET_NAME = "iexsync"


def m001_initial(db: Any) -> None:
    db["events"].create(
        {
            "id": int, "time": str, "run": str, "order_id": str, "order_number": str, "state": str,
            "outcome": str, "document_kind": str, "document_number": str, "message": str, "email": str,
            "source": str, "target": str,
        },
        pk="id",
    )
    for column in ("order_number", "order_id", "document_number", "email"):
        db["events"].create_index([column, "id"], index_name=f"events_by_{column}")
    # One row per document: an order may have an order document, an invoice and credit notes.
    db["transfers"].create(
        {
            "reference": str, "order_id": str, "order_number": str, "kind": str, "number": str,
            "remote_id": str, "booked": int, "fingerprint": str, "totals": str, "refund_id": str,
            "created_at": str, "updated_at": str,
        },
        pk="reference",
    )
    db["transfers"].create_index(["order_id"], index_name="transfers_by_order")
    db["intents"].create(
        {
            "reference": str, "order_id": str, "order_number": str, "action": str, "kind": str, "fingerprint": str,
            "totals": str, "refund_id": str, "run": str, "created_at": str,
        },
        pk="reference",
    )
    db["order_status"].create(
        {
            "order_id": str, "order_number": str, "signature": str, "outcome": str, "due": int,
            "config": str, "updated_at": str,
        },
        pk="order_id",
    )
    db["order_status"].create_index(["due"], index_name="order_status_due")
    db["cursors"].create({"name": str, "value": str}, pk="name")
    db["claims"].create({"order_id": str, "run": str, "pid": int, "claimed_at": str}, pk="order_id")
    db["runs"].create(
        {"run": str, "started": str, "finished": str, "counts": str, "pid": int},
        pk="run",
    )


def m002_inbox(db: Any) -> None:
    """Webhook deliveries: committed before the 200 goes out, so an accepted delivery
    survives any crash; `queued` rows are taken by the next run (webhook worker or cron)."""
    db["inbox"].create(
        {
            "id": int, "platform": str, "delivery_id": str, "order_id": str, "topic": str, "status": str,
            "reason": str, "remote": str, "received_at": str, "done_at": str,
        },
        pk="id",
    )
    db["inbox"].create_index(["platform", "delivery_id"], index_name="inbox_by_delivery")
    db["inbox"].create_index(["status", "order_id"], index_name="inbox_by_status")
    db["inbox"].create_index(["order_id", "id"], index_name="inbox_by_order")


def m003_remembered(db: Any) -> None:
    """What a connector learnt about the accounting system in earlier runs (which customer
    number a buyer has, that a product exists), so a returning buyer costs no lookup."""
    db["remembered"].create({"key": str, "value": str, "updated_at": str}, pk="key")


def m004_order_seen(db: Any) -> None:
    """A digest of each order as last decided, so a run skips an order that has not changed
    since (nor the config, and not due) without deciding it again."""
    db["order_status"].add_column("seen", str, not_null_default="")


def m005_document_booked(db: Any) -> None:
    """Whether the document an event names was booked: a draft and a booked invoice are two
    documents with numbers from two series, named apart ("invoice draft 1", "booked invoice
    1"). NULL on rows from before: not known."""
    db["events"].add_column("document_booked", int)


def m006_run_error(db: Any) -> None:
    """Why a run stopped before finishing (the shop unreachable, keys rejected, interrupted),
    so `iexsync status` can say it."""
    db["runs"].add_column("error", str)


def m007_payloads(db: Any) -> None:
    """Each payload once: an order's JSON went with every event about it (transferred, then
    booked: the same 4.7 KB twice). Events name their payloads by digest; `events.source`
    and `events.target` stay for the rows written before."""
    db["payloads"].create({"digest": str, "body": str}, pk="digest")
    db["events"].add_column("source_digest", str)
    db["events"].add_column("target_digest", str)


STEPS = (m001_initial, m002_inbox, m003_remembered, m004_order_seen, m005_document_booked, m006_run_error,
         m007_payloads)


def apply(conn: sqlite3.Connection) -> None:
    """Apply the pending steps, all in one write transaction: of two processes opening a new
    log at once, one migrates while the other waits, then finds nothing pending."""
    if not pending(conn):
        return
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(SET_NAME)
    for step in STEPS:
        migrations()(step)
    conn.execute("BEGIN IMMEDIATE")
    try:
        if pending(conn):
            migrations.apply(Database(conn))  # each step in a savepoint inside this transaction
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def pending(conn: sqlite3.Connection) -> list[str]:
    names = [step.__name__ for step in STEPS]
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'").fetchone()
    if not exists:
        return names
    applied = {row[0] for row in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (SET_NAME,))}
    return [name for name in names if name not in applied]
