"""Re-read recently transferred orders, a batch a run, for changes no change feed shows.

Why: with WooCommerce's posts order storage (the default before 8.2), saving an order's
items ("Save items", "Recalculate") writes item rows and meta only, so the order's
date_modified stays as it was and `modified_after` never returns it again once the overlap
window has passed (seen on a real 7.8.2: 917.50 → 955.00, date_modified unchanged).

What: a run re-reads up to one batch (the shop's page size: one request) of the orders
that have a document transferred within the shop's `recheck_days`, in rotation by order id,
so each is re-read at least every ceil(N / batch) batches. A batch is read at most once in
the shop's `recheck_minutes` (30): re-reading a hundred whole orders every five minutes
was most of an idle run's work and 28,800 order reads a day for the shop's server, to
catch an edit that is rare and that the books need within hours, not minutes. The re-read orders go through the
engine like changed ones; the engine compares each with the digest of the order as last
decided and decides only those that differ, so an unchanged order costs its share of the
request and a digest, nothing else. The rotation's place is kept in the log's `remembered`
table (a dry run does not move it).

A shop takes part by having `recheck_days` (0: off) and `orders_by_id(ids)` (one request
for a batch); others (the file shop reads everything every run) are left alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from iexsync.shops.base import ShopItem
from iexsync.timeutil import iso, parse_time, utc_now


def recheck_batch(shop: Any, store: Any, *, dry_run: bool) -> list[str]:
    """This run's batch of recently transferred order ids (empty when the shop takes no
    part), the rotation moved past it (not in a dry run)."""
    days = getattr(shop, "recheck_days", 0)
    if not days or getattr(shop, "orders_by_id", None) is None:
        return []
    batch_size = getattr(shop, "recheck_batch", 100)
    key = f"recheck:{shop.name}"
    every = timedelta(minutes=getattr(shop, "recheck_minutes", 0))
    last = store.remembered_at(key) if every else None
    if last and utc_now() - parse_time(last, key) < every:
        return []  # a batch was read less than recheck_minutes ago
    since = iso(utc_now() - timedelta(days=days))
    batch = store.transferred_since(since, store.recall(key) or "", batch_size)
    if len(batch) < batch_size:  # the end of the rotation: go on from the lowest id
        batch += [order_id for order_id in store.transferred_since(since, "", batch_size - len(batch))
                  if order_id not in batch]
    if batch and not dry_run:
        store.remember(key, batch[-1])
    return batch


def read_batch(shop: Any, batch: list[str]) -> list[ShopItem]:
    """The batch's orders, read again in one request. The engine sends it while the change
    feed is being read (an idle run then waits for one answer, not two), so the batch may
    hold orders the feed returns too: the engine handles those once, as the feed's."""
    return shop.orders_by_id(batch) if batch else []
