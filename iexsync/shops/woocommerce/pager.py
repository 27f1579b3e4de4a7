"""Where the next page of WooCommerce's order list starts: the pager's decisions, no I/O.

v3 cannot sort by modification time (orderby is date|id|include|title|slug), and an
order's id never changes, so a pass pages by id ascending with `offset`, one page at a
time; only orders joining or leaving the list can move the others.

A pass longer than one page freezes the list: pages after the first carry
`modified_before`, a second before the shop's clock (the first answer's Date header; ours
without one) said that answer went out. An order saved after that is outside the list, so
orders can leave it (edited, trashed, deleted) but never join it. The first page carries
no `modified_before`: until the shop has answered we do not know its clock, and a time
from ours, if ahead, would let orders saved during the pass join; the first page's list is
then a superset of the frozen one, and the difference counts as orders that left. Nor
does a pass of one page need a freeze (the idle cron run: one call). Orders on the first
page saved after the freeze are not yielded either: every order the pass leaves out was
saved after every order it yields, so the engine's cursor (the newest modification
yielded) can never pass one, and the next run reads it.

Exact: each page starts right after the last order read, so N orders take
ceil(N / per_page) list calls. Orders that leave before our position would shift an
unread one onto the part already read; a list that can only shrink shows that in
X-WP-Total, which every answer carries: if it fell by d since the last answer, at most d
orders left before our position, so the page is asked again from d orders earlier (ids
read already are skipped). One extra call, only when orders actually left.

Without X-WP-Total (a proxy that strips it), or where the list turns out not to be frozen
(it grew, or an answer holds an order outside the modification window: a WooCommerce
before 5.8 ignores modified_after and modified_before alike), the rest of the pass
overlaps pages by one order instead: a page that no longer starts with the last order
read means orders left before it, and the pager steps back. (A gap remains there: on a
first run, with no `since` to show that an old WooCommerce ignores the window, an order
trashed before our position while another is created, between the same two pages, leaves
X-WP-Total as it was, and one unread order slips past; pinned in the tests as a strict
xfail.)

Nothing is yielded twice within one pass: only ids above the last one read go out (an
order without a usable id, read as broken, once by its content).

The connector drives it:

    pager = Pager(per_page, since)
    while True:
        offset = pager.start()
        while (again := pager.answered(offset, first_id, total)) is not None:   # ask again?
            offset = again; ...fetch the page at offset...
        pager.page(offset, ids, total, shop_clock)                # freezes after the first
        for each order: if pager.take(order_id, modified, key): yield it
        if pager.done(): break                                    # or raises: offset ignored
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from iexsync import errors

WHAT = "WooCommerce"


@dataclass
class Window:
    """The modification times a pass yields: from `floor` (since), and before `ceiling`
    (the freeze) once the pass is longer than a page."""

    floor: datetime | None = None
    ceiling: datetime | None = None

    def outside(self, modified: datetime | None) -> str:
        """"before", "after", or "" (within, or no time to tell by)."""
        if modified is None:
            return ""
        if self.floor is not None and modified < self.floor:
            return "before"  # a shop that ignored modified_after
        if self.ceiling is not None and modified >= self.ceiling:
            return "after"  # saved after the freeze: the next run's
        return ""


@dataclass
class Pager:
    """One pass over the order list: which offset to ask for, which orders to yield."""

    per_page: int
    since: datetime | None = None
    window: Window = field(default_factory=Window)
    last_id: int = 0  # the highest order id read
    read: int = 0  # at least this many orders of the list lie before the first unread one...
    total: int | None = None  # ...in the list as this X-WP-Total counted it
    unread_by: int = 0  # and at most this many (more after a step back over orders read already)
    exact: bool = True  # False: the rest of the pass overlaps pages by one order
    params: dict[str, Any] = field(default_factory=dict)  # the list query, offset aside
    _read_without_id: set[str] = field(default_factory=set)
    _page: tuple[int, int, int | None, bool, bool] = (0, 0, None, False, False)  # offset, count, total, frozen, last
    _fresh: int = 0

    def __post_init__(self) -> None:
        self.params = {"status": "any", "orderby": "id", "order": "asc", "per_page": self.per_page}
        if self.since is not None:
            self.window.floor = whole_second(self.since)
            # modified_after is exclusive and WooCommerce keeps whole seconds: one second
            # earlier includes orders saved in the second `since` falls in.
            self.params["modified_after"] = wc_time(self.window.floor - timedelta(seconds=1))
            self.params["dates_are_gmt"] = "true"

    def start(self) -> int:
        """The offset the next page is asked from."""
        return self.read if self.exact else max(0, self.read - 1)

    def answered(self, offset: int, first_id: int | None, total: int | None) -> int | None:
        """None if the answer for `offset` (its first order's id, its X-WP-Total) is the
        page to read; else the offset to ask again from.

        Exact: at the first unread order, asked again from further back while X-WP-Total
        says more orders left the list than the page steps back over. Overlapping: at the
        last order read, stepping back while the page does not reach it."""
        if self.exact and (total is None or (self.total is not None and total > self.total)):
            self.exact = False  # no total to count departures by, or a list that grew
            if offset:
                return max(0, self.read - 1)
        if offset == 0:
            return None  # nothing lies before it
        if self.exact:
            left = self.total - total  # type: ignore[operator]  # both known when exact
            if self.read - offset >= left:
                return None
            return max(0, self.read - left)
        if first_id is not None and first_id <= self.last_id:
            return None
        return max(0, offset - (self.per_page - 1))

    def page(self, offset: int, ids: list[int], total: int | None, shop_clock: datetime | None) -> None:
        """The page about to be read: its ids in the shop's order, X-WP-Total, the shop's Date."""
        check_id_order(ids)
        last = len(ids) < self.per_page or (total is not None and offset + len(ids) >= total)
        frozen = self.window.ceiling is not None
        if not frozen and not last:
            self.window.ceiling = freeze_time(shop_clock)
            self.params["modified_before"] = wc_time(self.window.ceiling)
            self.params["dates_are_gmt"] = "true"
        self._page, self._fresh = (offset, len(ids), total, frozen, last), 0

    def take(self, order_id: int, modified: datetime | None, content_key: str = "") -> bool:
        """Whether to yield this order of the page (`order_id` 0: none usable, then it is
        known by `content_key`)."""
        if order_id and order_id <= self.last_id:
            return False  # read already
        if not order_id:
            if content_key in self._read_without_id:
                return False
            self._read_without_id.add(content_key)
        self.last_id, self._fresh = max(self.last_id, order_id), self._fresh + 1
        outside = self.window.outside(modified)
        if outside == "before" or (outside == "after" and self._page[3]):
            self.exact = False  # the shop ignored the window: the list is not frozen
        return not outside

    def done(self) -> bool:
        """After a page's orders were taken: True when the pass is over. Raises UserError
        when the shop keeps answering the same page (it ignores `offset`)."""
        offset, count, total, _, last = self._page
        if last:
            return True
        end = offset + count
        if not self._fresh and end > self.unread_by:
            # A full page over the place the first unread order must be, and nothing new
            # on it: the shop keeps answering the same page.
            raise errors.UserError(
                f"{WHAT}: the shop ignores the `offset` parameter of GET /orders (a plugin or cache may "
                "rewrite the request), so iexsync cannot page through the orders safely and stops"
            )
        self.read, self.total = end, total
        self.unread_by = end if self._fresh else self.unread_by
        return False


def check_id_order(ids: list[int]) -> None:
    """Paging by id is only safe if the shop really sorts by id: stop rather than skip orders."""
    known = [i for i in ids if i]
    if any(later <= earlier for earlier, later in zip(known, known[1:])):
        raise errors.UserError(
            f"{WHAT}: the shop ignored orderby=id&order=asc on GET /orders (a plugin may force its own "
            "order), so iexsync cannot page through the orders safely and stops"
        )


def freeze_time(shop_clock: datetime | None) -> datetime:
    """A second before the shop's clock said its first answer went out (ours if it did not
    say); the second's margin covers a web server's clock a little ahead of PHP's."""
    moment = shop_clock or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)


def whole_second(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    return value.astimezone(timezone.utc).replace(microsecond=0)


def wc_time(value: datetime) -> str:
    """WooCommerce's own form: no offset (with dates_are_gmt, it is UTC)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
