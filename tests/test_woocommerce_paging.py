"""Paging through WooCommerce's order list over real HTTP (the fake shop on loopback).

Exactly ceil(N / per_page) list calls in steady state; nothing missed and nothing yielded
twice while orders are trashed, deleted, edited or created between two pages (the fake's
`on_list` hooks change the shop just before it answers a list request).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import pytest

from iexsync import errors
from iexsync.model import Order
from iexsync.shops.base import BrokenOrder
from iexsync.shops.woocommerce.client import http_date as _http_date
from iexsync.shops.woocommerce.pager import freeze_time as _freeze_time
from iexsync.shops.woocommerce.shop import WooCommerceShop
from tests.fakes import woocommerce_examples as examples
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
CLOCK = [NOW]  # the fake shop's clock: it stands still within a pass, and moves on between passes


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    CLOCK[0] = NOW
    return server.use(FakeWooCommerce(now=lambda: CLOCK[0]))


@pytest.fixture
def shop(fake: FakeWooCommerce, server: WooServer) -> Iterator[WooCommerceShop]:
    yield from server.connect()



def offsets(server: WooServer) -> list[int]:
    return [int(q["offset"][0]) for q in server.list_queries()]


def pull(shop: WooCommerceShop, since: datetime | None = None) -> list:
    items = list(shop.changed_orders(since))
    ids = [item.order_id for item in items]
    assert len(ids) == len(set(ids)), "an order was yielded twice in one pass"
    return items


def order_ids(items: list) -> list[str]:
    return [item.order_id for item in items]


def next_pass(shop: WooCommerceShop, items: list) -> list:
    """What the engine's next run reads, five minutes later: since the newest modification
    yielded, with no overlap window at all (transfer.overlap_minutes: 0), so nothing rests
    on the overlap."""
    CLOCK[0] += timedelta(minutes=5)
    return pull(shop, max(item.modified for item in items))


def when(offset: int, change: Callable[[FakeWooCommerce], object]) -> Callable:
    """An on_list hook: change the shop once, just before it answers the request for `offset`."""
    done = []

    def hook(shop: FakeWooCommerce, query: dict) -> None:
        if query.get("offset") == str(offset) and not done:
            done.append(change(shop))

    return hook


def at_call(number: int, change: Callable[[FakeWooCommerce], object]) -> Callable:
    """An on_list hook: change the shop just before it answers the `number`th list request."""
    calls = []

    def hook(shop: FakeWooCommerce, query: dict) -> None:
        calls.append(query)
        if len(calls) == number:
            change(shop)

    return hook


def create(shop: FakeWooCommerce, order_id: int) -> None:
    """A new order, saved now."""
    shop.add_order(examples.order(727) | {"id": order_id})
    shop.modify(order_id)


# --- steady state ------------------------------------------------------------------------------
def test_a_thousand_orders_take_exactly_ten_list_calls(fake, server, shop) -> None:
    ids = fake.generate(1000)
    items = pull(shop)
    assert all(isinstance(item, Order) for item in items)
    assert order_ids(items) == [str(i) for i in ids]  # once each, in id order
    queries = server.list_queries()
    assert offsets(server) == [100 * n for n in range(10)]
    assert all(q["orderby"] == ["id"] and q["order"] == ["asc"] and q["status"] == ["any"] and q["per_page"] == ["100"]
               for q in queries)
    # Pages after the first are frozen a second before the shop's clock at the first answer.
    assert "modified_before" not in queries[0]
    assert all(q["modified_before"] == ["2026-03-01T11:59:59"] and q["dates_are_gmt"] == ["true"] for q in queries[1:])
    for item in items:
        assert item.totals().gross == item.shop_total, item.order_id
    assert sum(1 for item in items if item.refunds) == 250
    assert server.calls("GET", f"{API}/orders/") == []  # no refund reads while listing


def test_ten_thousand_orders_take_exactly_a_hundred_list_calls(fake, server, shop) -> None:
    ids = fake.generate(10_000)
    count = last = 0
    for item in shop.changed_orders(None):  # streamed, not collected: 10,000 orders
        assert int(item.order_id) > last
        count, last = count + 1, int(item.order_id)
    assert count == 10_000 and last == ids[-1]
    assert offsets(server) == [100 * n for n in range(100)]


@pytest.mark.parametrize(("count", "per_page"), [(7, 3), (6, 3), (200, 100), (201, 100), (99, 2)])
def test_any_count_takes_ceil_n_over_per_page_calls(fake, server, count, per_page) -> None:
    ids = fake.generate(count)
    shop = WooCommerceShop.from_config(fake.shop_config(server, per_page=per_page), None)  # type: ignore[arg-type]
    assert order_ids(pull(shop)) == [str(i) for i in ids]
    assert offsets(server) == [per_page * n for n in range(math.ceil(count / per_page))]


def test_one_page_is_one_call_without_a_freeze(fake, server, shop) -> None:
    fake.generate(60)
    fake.modify(fake.generate(1, first_id=50_000)[0])  # saved this very second
    assert len(pull(shop)) == 61  # one answer is a consistent picture: nothing waits for the next run
    assert len(server.list_queries()) == 1 and "modified_before" not in server.list_queries()[0]


def test_no_orders_at_all(shop, server) -> None:
    assert pull(shop) == []
    assert len(server.list_queries()) == 1


# --- orders leaving the list during the pass -------------------------------------------------------
def test_orders_trashed_or_deleted_before_our_position_cost_one_call_and_hide_nothing(fake, server, shop) -> None:
    ids = fake.generate(1000)

    def remove(shop_: FakeWooCommerce) -> None:  # orders on pages already read go away
        for order_id in ids[5:8]:
            shop_.trash(order_id)
        shop_.delete(ids[50])

    fake.on_list.append(when(300, remove))
    assert order_ids(pull(shop)) == [str(i) for i in ids]  # the removed ones were read before they went
    # The answer for 300 says 996 orders: four left, so the page is asked again from 296.
    assert offsets(server) == [0, 100, 200, 300, 296, 396, 496, 596, 696, 796, 896]


def test_orders_leaving_after_our_position_are_simply_not_read(fake, server, shop) -> None:
    ids = fake.generate(1000)

    def remove(shop_: FakeWooCommerce) -> None:
        shop_.trash(ids[500])
        shop_.delete(ids[900])

    fake.on_list.append(when(300, remove))
    gone = {str(ids[500]), str(ids[900])}
    assert order_ids(pull(shop)) == [str(i) for i in ids if str(i) not in gone]
    assert len(offsets(server)) == 11  # the step back cannot tell where they left: one extra call


def test_each_departure_event_costs_at_most_one_call(fake, server, shop) -> None:
    ids = fake.generate(1000)
    events = {  # before the nth list request
        3: lambda s: s.trash(ids[150]),  # before our position (200)
        6: lambda s: s.delete(ids[700]),  # after it
        8: lambda s: [s.delete(ids[10]), s.trash(ids[800]), s.delete(ids[498])],  # both, and the last one read
        11: lambda s: s.trash(ids[999]),  # the very last order
    }
    for number, change in events.items():
        fake.on_list.append(at_call(number, change))
    gone = {str(ids[700]), str(ids[800]), str(ids[999])}  # left before they were read
    items = order_ids(pull(shop))
    assert items == [str(i) for i in ids if str(i) not in gone]
    assert len(offsets(server)) <= 10 + len(events)


def test_more_orders_leaving_at_once_than_a_page_holds(fake, server, shop) -> None:
    ids = fake.generate(1000)

    def bulk(shop_: FakeWooCommerce) -> None:  # 50 read already, 200 not yet: a bulk action in the admin
        for order_id in ids[200:250] + ids[600:800]:
            shop_.trash(order_id)

    fake.on_list.append(when(400, bulk))
    items = order_ids(pull(shop))
    assert items == [str(i) for i in ids[:600] + ids[800:]]
    # Stepping back 250 re-reads pages that were read already: they are skipped, not an error.
    assert offsets(server)[:6] == [0, 100, 200, 300, 400, 150]


def test_orders_leaving_between_a_step_back_and_its_answer(fake, server, shop) -> None:
    ids = fake.generate(1000)
    fake.on_list.append(when(500, lambda s: s.trash(ids[100])))
    fake.on_list.append(when(499, lambda s: [s.trash(ids[200]), s.delete(ids[300])]))
    assert order_ids(pull(shop)) == [str(i) for i in ids]
    assert offsets(server)[:7] == [0, 100, 200, 300, 400, 500, 499] and offsets(server)[7] == 497


# --- orders edited or created during the pass ------------------------------------------------------
def test_an_order_edited_before_it_was_read_is_left_to_the_next_pass_in_its_new_state(fake, server, shop) -> None:
    ids = fake.generate(1000)
    late = ids[850]
    fake.on_list.append(when(100, lambda s: s.modify(late, status="completed")))
    first = pull(shop)
    assert str(late) not in order_ids(first)  # it left the frozen list: saved after the freeze
    assert len(first) == 999
    second = {item.order_id: item for item in next_pass(shop, first)}
    assert second[str(late)].state == "completed"


def test_an_order_edited_after_it_was_read_is_read_once_and_again_by_the_next_pass(fake, server, shop) -> None:
    ids = fake.generate(1000)
    early = ids[10]
    fake.on_list.append(when(200, lambda s: s.modify(early, status="cancelled")))
    first = pull(shop)
    assert order_ids(first) == [str(i) for i in ids]
    assert {item.order_id: item for item in first}[str(early)].state == "processing"
    assert len(offsets(server)) == 11  # it left the frozen list, before our position: one step back
    second = {item.order_id: item for item in next_pass(shop, first)}
    assert second[str(early)].state == "cancelled"


def test_orders_created_during_the_pass_are_read_by_the_next(fake, server, shop) -> None:
    ids = fake.generate(300)
    newcomer = ids[-1] + 100
    fake.on_list.append(when(100, lambda s: create(s, newcomer)))
    first = pull(shop)
    assert order_ids(first) == [str(i) for i in ids]
    assert offsets(server) == [0, 100, 200]  # the frozen list never grew
    assert str(newcomer) in order_ids(next_pass(shop, first))


def test_an_order_saved_just_before_a_long_pass_waits_for_the_next_one(fake, server, shop) -> None:
    ids = fake.generate(250)
    fake.modify(ids[3], customer_note="changed this second")  # on the first page, after the freeze
    first = pull(shop)
    assert str(ids[3]) not in order_ids(first) and len(first) == 249
    # Everything left out was saved after everything yielded: the cursor cannot pass it.
    assert max(item.modified for item in first) < fake.orders[ids[3]].modified_gmt
    assert str(ids[3]) in order_ids(next_pass(shop, first))


def test_the_freeze_is_the_shops_clock_not_ours(server) -> None:
    ahead = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=2)
    fake = server.use(FakeWooCommerce(now=lambda: ahead))  # a shop whose clock is two hours ahead of ours
    ids = fake.generate(250)
    shop = WooCommerceShop.from_config(fake.shop_config(server), None)  # type: ignore[arg-type]
    assert order_ids(pull(shop)) == [str(i) for i in ids]
    assert server.list_queries()[1]["modified_before"] == [(ahead - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")]


def test_the_freeze_time_is_a_second_before_the_date_header_or_our_clock() -> None:
    assert _http_date("Sun, 01 Mar 2026 12:00:00 GMT") == NOW
    assert _freeze_time(_http_date("Sun, 01 Mar 2026 12:00:00 GMT")) == NOW - timedelta(seconds=1)
    assert _http_date("yesterday") is None and _http_date(None) is None
    ours = datetime.now(timezone.utc)
    assert ours - timedelta(seconds=2) <= _freeze_time(None) <= ours


# --- shops that do not keep the list frozen or do not count it ------------------------------------------
def test_without_x_wp_total_pages_overlap_by_one_order(fake, server, shop) -> None:
    ids = fake.generate(1000)
    fake.sends_totals = False  # a proxy strips the headers

    def remove(shop_: FakeWooCommerce) -> None:
        for order_id in ids[5:8]:
            shop_.trash(order_id)
        shop_.delete(ids[50])

    fake.on_list.append(when(297, remove))
    assert order_ids(pull(shop)) == [str(i) for i in ids]
    seen = offsets(server)
    assert seen[:4] == [0, 99, 198, 297] and seen[4] == 297 - 99  # the page no longer reached back: step back
    assert all(q["modified_before"] for q in server.list_queries()[1:])


def test_without_x_wp_total_and_no_changes(fake, server, shop) -> None:
    ids = fake.generate(1000)
    fake.sends_totals = False
    assert order_ids(pull(shop)) == [str(i) for i in ids]
    assert offsets(server) == [0, *(99 * n for n in range(1, 11))]  # ceil((N - 1) / 99) + the empty end


def test_an_old_woocommerce_that_ignores_the_window_is_paged_with_overlap(fake, server, shop) -> None:
    ids = fake.generate(1000)
    fake.supports_modified_after = False  # before 5.8: modified_after and modified_before are ignored
    since = fake.orders[ids[400]].modified_gmt
    newcomer = ids[-1] + 100

    def both(shop_: FakeWooCommerce) -> None:  # one leaves before our position, one joins the end
        shop_.trash(ids[150])
        create(shop_, newcomer)

    fake.on_list.append(when(198, both))
    first = pull(shop, since)
    assert order_ids(first) == [str(i) for i in ids[400:]]
    assert offsets(server)[:3] == [0, 99, 198]  # the first page held orders before `since`: overlap
    assert str(newcomer) in order_ids(next_pass(shop, first))


@pytest.mark.xfail(strict=True, reason="known gap: a WooCommerce before 5.8, on a first run (no `since` to show "
                   "it ignores the window), an order trashed before our position while another is created, "
                   "between the same two pages: X-WP-Total stays and one unread order slips past")
def test_an_old_woocommerce_on_a_first_run_with_a_departure_and_an_arrival_at_once(fake, server, shop) -> None:
    ids = fake.generate(1000)
    fake.supports_modified_after = False
    fake.on_list.append(when(300, lambda s: [s.trash(ids[150]), create(s, ids[-1] + 100)]))
    assert set(map(str, ids)) <= set(order_ids(pull(shop)))


def test_a_list_that_grows_is_not_frozen_and_the_rest_of_the_pass_overlaps_pages(fake, server, shop) -> None:
    ids = fake.generate(1000)
    imported = ids[-1] + 3  # written by an import with an old modification time: it joins the frozen list
    fake.on_list.append(when(300, lambda s: s.generate(1, first_id=imported, modified_from=NOW - timedelta(days=2))))
    assert order_ids(pull(shop)) == [str(i) for i in [*ids, imported]]
    assert offsets(server)[:6] == [0, 100, 200, 300, 299, 398]  # it grew: from here on, overlapping pages


# --- the checks that stop a pass ---------------------------------------------------------------------
@pytest.mark.parametrize("knob", ["honours_orderby", "honours_offset"])
def test_a_shop_that_ignores_the_paging_parameters_stops_the_run_instead_of_skipping_orders(fake, shop, knob) -> None:
    fake.generate(250)
    setattr(fake, knob, False)
    with pytest.raises(errors.UserError, match=r"ignore[sd]? .*cannot page through the orders safely"):
        pull(shop)


def test_a_shop_that_ignores_offset_is_caught_without_x_wp_total_too(fake, shop) -> None:
    fake.generate(250)
    fake.honours_offset = fake.sends_totals = False
    with pytest.raises(errors.UserError, match=r"ignores the `offset` parameter"):
        pull(shop)


@pytest.mark.parametrize("sends_totals", [True, False])
def test_an_order_without_an_id_is_read_once_as_broken(fake, server, shop, sends_totals) -> None:
    ids = fake.generate(250)
    fake.sends_totals = sends_totals
    for order_id in (ids[0], ids[99], ids[100]):  # first of all, last of a page, first of the next
        fake.orders[order_id].raw = {k: v for k, v in fake.order_json(order_id).items() if k != "id"}
    fake.on_list.append(when(200 if sends_totals else 198, lambda s: s.delete(ids[150])))  # and a step back over them
    items = pull(shop)
    broken = [item for item in items if isinstance(item, BrokenOrder)]
    assert len(items) == 250 and len(broken) == 3 and all("id is missing" in b.error for b in broken)
