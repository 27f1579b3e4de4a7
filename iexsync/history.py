"""`iexsync log show ORDER`: one order's whole history, step by step, from the log alone.

Every event oldest first, with the order as the shop sent it and the document as it went to
the accounting system (both stored with secrets removed, each payload once), the documents
the order became, and the webhook deliveries about it. Read-only, like `log search`.
"""

from __future__ import annotations

import json

from iexsync.logsearch import deliveries
from iexsync.naming import document_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from iexsync.logsearch import Rows


def find_order(rows: Rows, query: str) -> str | None:
    """The order id for an order number (what support staff know) or an id; None if the log
    knows neither."""
    query = query.strip()
    for sql in (
        "SELECT order_id FROM order_status WHERE order_number = ? LIMIT 1",
        "SELECT order_id FROM events WHERE order_number = ? ORDER BY id DESC LIMIT 1",
        "SELECT order_id FROM order_status WHERE order_id = ? LIMIT 1",
        "SELECT order_id FROM events WHERE order_id = ? LIMIT 1",
        "SELECT order_id FROM inbox WHERE order_id = ? LIMIT 1",
    ):
        found = rows(sql, (query,))
        if found:
            return found[0][0]
    return None


def collect(rows: Rows, order_id: str) -> dict[str, Any]:
    columns = {row[1] for row in rows("PRAGMA table_info(events)", ())}
    booked = "document_booked" if "document_booked" in columns else "NULL"
    digests = ("source_digest, target_digest" if "source_digest" in columns else "NULL, NULL")
    events = []
    number = order_id
    for (time, run, order_number, state, outcome, kind, doc_number, is_booked, message, source, target,
         source_digest, target_digest) in rows(
            f"SELECT time, run, order_number, state, outcome, document_kind, document_number, {booked}, message, "
            f"source, target, {digests} FROM events WHERE order_id = ? ORDER BY id", (order_id,)):
        number = order_number or number
        events.append({
            "time": time, "run": run, "state": state, "outcome": outcome,
            "document": document_name(kind, doc_number, None if is_booked is None else bool(is_booked)),
            "message": message,
            "source": _payload(rows, source, source_digest), "target": _payload(rows, target, target_digest),
        })
    documents = [
        {"document": document_name(kind, doc_number, bool(is_booked)), "reference": reference, "kind": kind,
         "number": doc_number, "booked": bool(is_booked), "totals": json.loads(totals or "{}"),
         "created": created, "updated": updated}
        for reference, kind, doc_number, is_booked, totals, created, updated in rows(
            "SELECT reference, kind, number, booked, totals, created_at, updated_at FROM transfers "
            "WHERE order_id = ? ORDER BY created_at", (order_id,))
    ]
    status = rows("SELECT outcome, due FROM order_status WHERE order_id = ?", (order_id,))
    return {
        "order": number, "order_id": order_id,
        "outcome": status[0][0] if status else None, "due": bool(status[0][1]) if status else False,
        "documents": documents,
        "events": events,
        "deliveries": list(reversed(deliveries(rows, order_id, 1000))),
    }


def _payload(rows: Rows, inline: str | None, digest: str | None) -> Any:
    body = inline
    if body is None and digest:
        found = rows("SELECT body FROM payloads WHERE digest = ?", (digest,))
        body = found[0][0] if found else None
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body


def lines(history: dict[str, Any], local_time: Any) -> list[str]:
    """The history for a person: each payload printed in full the first time, named after."""
    out = [f"order {history['order']} (id {history['order_id']}): "
           + (f"last outcome {history['outcome']}" if history["outcome"] else "no outcome yet")
           + (", due for a retry" if history["due"] else "")]
    if history["documents"]:
        out.append("documents:")
        for doc in history["documents"]:
            totals = " ".join(f"{key} {value}" for key, value in doc["totals"].items())
            out.append(f"  {doc['document']}  {doc['reference']}  {totals}".rstrip())
    out.append("history, oldest first:")
    shown: dict[str, str] = {}
    steps = [(e["time"], 0, e) for e in history["events"]] + [(d["time"], 1, d) for d in history["deliveries"]]
    for _, _, event in sorted(steps, key=lambda step: (step[0], step[1])):  # events keep their order within a second
        document = f" {event['document']}" if event["document"] else ""
        state = f" [{event['state']}]" if event["state"] else ""
        out.append(f"  {local_time(event['time'])}  {event['outcome']}{state}{document}: {event['message']}")
        for key, said in (("source", "as the shop sent it"), ("target", "as it went to the accounting system")):
            payload = event.get(key)
            if payload is None:
                continue
            text = json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True)
            if text in shown:
                out.append(f"      {said}: the same as at {shown[text]}")
                continue
            shown[text] = local_time(event["time"])
            out.append(f"      {said}:")
            out += ["        " + line for line in text.splitlines()]
    return out
