"""The WooCommerce pager's offset decisions as a table: no HTTP, a list of ids that changes
between requests as a shop's would, and the offsets the pager asks for.

The HTTP-level behaviour (the same cases against the fake shop) is in
test_woocommerce_paging.py; this is the pure part, in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from iexsync import errors
from iexsync.shops.woocommerce.pager import Pager

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def drive(per_page: int, ids: list[int], *, changes: dict[int, Callable[[list[int]], None]] | None = None,
          totals: bool = True, ignore_offset: bool = False, since: datetime | None = None,
          modified: Callable[[int], datetime | None] = lambda _: None) -> tuple[list[int], list[int], list[int]]:
    """Run one pass: (offsets asked for, ids yielded, the list at the end). `changes[n]`
    edits the list just before the n-th request (1-based) is answered."""
    shop = sorted(ids)
    pager = Pager(per_page, since)
    asked: list[int] = []
    yielded: list[int] = []

    def answer(offset: int) -> tuple[list[int], int | None]:
        asked.append(offset)
        if changes and len(asked) in changes:
            changes[len(asked)](shop)
            shop.sort()
        start = 0 if ignore_offset else offset
        return shop[start:start + per_page], (len(shop) if totals else None)

    while len(asked) < 50:
        offset = pager.start()
        page, total = answer(offset)
        while (again := pager.answered(offset, page[0] if page else None, total)) is not None:
            offset = again
            page, total = answer(offset)
        pager.page(offset, page, total, T0)
        yielded += [i for i in page if pager.take(i, modified(i))]
        if pager.done():
            return asked, yielded, shop
    raise AssertionError(f"no end after {asked}")


def leave(*gone: int) -> Callable[[list[int]], None]:
    return lambda shop: [shop.remove(i) for i in gone]


def join(*new: int) -> Callable[[list[int]], None]:
    return lambda shop: shop.extend(new)


# (why, per_page, ids, changes, totals) -> (offsets asked, every id yielded once)
TABLE = [
    ("steady: ceil(N/per_page) calls", 3, list(range(1, 8)), {}, True, [0, 3, 6]),
    ("an exact multiple ends on X-WP-Total", 3, list(range(1, 7)), {}, True, [0, 3]),
    ("one page, one call", 100, [5, 9], {}, True, [0]),
    ("two leave before our place: one step back by two", 3, list(range(1, 11)), {2: leave(1, 2)}, True, [0, 3, 1, 4, 7]),
    ("two leave after it: the total cannot tell where, so the same step", 3, list(range(1, 11)), {2: leave(9, 10)}, True,
     [0, 3, 1, 4, 7]),
    ("one leaves: one step back by one", 3, list(range(1, 8)), {2: leave(7)}, True, [0, 3, 2, 5]),
    ("without X-WP-Total pages overlap by one", 3, list(range(1, 8)), {}, False, [0, 2, 4, 6]),
    ("without totals, a departure before us is a step back", 3, list(range(1, 11)), {2: leave(1, 2)}, False, [0, 2, 0, 2, 4, 6]),
    ("a list that grows is not frozen: the rest overlaps", 3, list(range(1, 8)), {2: join(20)}, True, [0, 3, 2, 4, 6]),
]


@pytest.mark.parametrize("why, per_page, ids, changes, totals, offsets", TABLE, ids=[row[0] for row in TABLE])
def test_offsets(why, per_page, ids, changes, totals, offsets) -> None:
    asked, yielded, final = drive(per_page, ids, changes=changes, totals=totals)
    assert asked == offsets
    assert len(yielded) == len(set(yielded))  # none twice
    assert set(ids) & set(final) <= set(yielded)  # none that stayed in the list is missed


def test_a_shop_that_ignores_offset_stops_the_pass() -> None:
    with pytest.raises(errors.UserError, match="ignores the `offset` parameter"):
        drive(3, list(range(1, 8)), ignore_offset=True)


def test_a_shop_that_ignores_orderby_stops_the_pass() -> None:
    pager = Pager(3)
    with pytest.raises(errors.UserError, match="ignored orderby=id"):
        pager.page(0, [5, 3, 4], 3, T0)


def test_pages_after_the_first_are_frozen_a_second_before_the_shops_clock() -> None:
    pager = Pager(3, T0 - timedelta(hours=1))
    assert pager.params["modified_after"] == "2026-03-01T10:59:59"  # exclusive: one second earlier
    assert "modified_before" not in pager.params
    pager.page(0, [1, 2, 3], 7, T0)
    assert pager.params["modified_before"] == "2026-03-01T11:59:59"


def test_one_page_needs_no_freeze() -> None:
    pager = Pager(3)
    pager.page(0, [1, 2], 2, T0)
    assert "modified_before" not in pager.params and pager.done()


def test_orders_saved_after_the_freeze_wait_for_the_next_pass() -> None:
    late = {2: T0 + timedelta(seconds=5)}
    asked, yielded, _ = drive(3, list(range(1, 8)), modified=lambda i: late.get(i, T0 - timedelta(minutes=1)))
    assert asked == [0, 3, 6] and 2 not in yielded and len(yielded) == 6


def test_an_order_before_since_means_the_shop_ignored_the_window() -> None:
    pager = Pager(3, T0)
    pager.page(0, [1, 2, 3], 7, T0 + timedelta(hours=1))
    assert pager.take(1, T0 - timedelta(days=1)) is False  # not yielded...
    assert pager.exact is False  # ...and the rest of the pass overlaps pages
    assert pager.take(2, T0) is True


def test_orders_without_an_id_are_taken_once_by_their_content() -> None:
    pager = Pager(3)
    pager.page(0, [0, 0, 4], 3, T0)
    assert [pager.take(0, None, "a"), pager.take(0, None, "a"), pager.take(4, None)] == [True, False, True]
