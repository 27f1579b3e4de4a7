"""4. Bad input: hypothesis-generated malformed and hostile orders (tests/reliability/hostile.py)
— missing and wrong-typed fields, huge numbers, negative quantities, NaN/inf strings,
unknown VAT rates, 1 MB strings, unicode (lone surrogates, NUL, RTL overrides), deep
nesting, bad ids — mixed with good orders, read by the real `iexsync sync` from a folder
(the file shop) or over HTTP from the fake WooCommerce, into the fake e-conomic.

Each run: no traceback, exit 0 or 1; every order is in the log; every order with a defect
that makes it unusable is logged as an `error` whose message names what is wrong; every
good order in the same run is transferred and booked exactly once; a second run over the
same orders writes nothing and repeats no error.

Fast: 2 batches of 50 (files) + 1 of 30 (WooCommerce). Full (`-m slow`): 80 × 50 files +
20 × 50 WooCommerce = 5,000 hostile orders.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.fakes.woocommerce import FakeWooCommerce, WooServer
from tests.reliability.hostile import Hostile, hostile_orders, log_key, with_id, write_order
from tests.reliability.support import (
    COLLECTOR, SECRETS, assert_no_crash, demo_order, documents, duplicate_count, economic, run_iexsync, verdict,
    write_config,
)

IDS = itertools.count(300_000)
CONTROLS = 8  # good orders in every batch


@pytest.fixture(scope="module")
def books() -> Iterator[tuple]:
    with economic() as running:
        yield running


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Folders for the hypothesis examples (many per test), kept like tmp_path for the secrets scan."""
    return lambda name: tmp_path_factory.mktemp(name)


@pytest.fixture(scope="module")
def woo() -> Iterator[WooServer]:
    with WooServer() as server:
        yield server


def events_by_order(db: Path) -> dict[str, list[tuple[str, str]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT order_id, outcome, message FROM events ORDER BY id").fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for order_id, outcome, message in rows:
        found.setdefault(order_id, []).append((outcome, message))
    return found


def control_orders(count: int) -> list[dict]:
    orders = []
    for _ in range(count):
        order = demo_order(1001)
        number = next(IDS)
        order.update(id=number, number=str(number))
        orders.append(order)
    return orders


def check_batch(tally, fake, workspace: Path, config: Path, hostile: list[tuple[str, Hostile, dict]],
                controls: list[dict], env: dict | None = None) -> None:
    before = sum(documents(fake).values())
    first = run_iexsync(tally, "sync", "--config", config, env=env, timeout=600)
    db = workspace / "iexsync.db"
    logged = events_by_order(db)
    in_error = any(outcome == "error" for rows in logged.values() for outcome, _ in rows)
    assert_no_crash(first, allowed=(1 if in_error else 0,))  # exit 1 exactly when an order ended in error
    problems = []
    stats: Counter = Counter()
    for key, item, _ in hostile:
        rows = logged.get(key, [])
        outcomes = {outcome for outcome, _ in rows}
        stats["hostile"] += 1
        stats["fatal" if item.fatal else "maybe"] += 1
        if not rows:
            problems.append(f"{key}: not in the log at all ({item.describe()})")
            stats["lost"] += 1
            continue
        if "error" in outcomes:
            stats["logged_error"] += 1
        if outcomes & {"transferred", "booked"}:
            stats["transferred"] += 1
        if item.fatal:
            errors = [message for outcome, message in rows if outcome == "error"]
            if not errors:
                problems.append(f"{key}: should be an error, was {sorted(outcomes)} ({item.describe()})")
                continue
            if any(len(message.strip()) < 12 for message in errors):
                problems.append(f"{key}: an error without a description: {errors} ({item.describe()})")
            hints = [d.field for d in item.defects if item.is_fatal(d)]
            if all(hints) and not any(hint in errors[0] for hint in hints):
                problems.append(f"{key}: the error does not name {hints}: {errors[0][:200]!r} ({item.describe()})")
    control_refs = [f"iexsync:woocommerce:{o['id']}:invoice" for o in controls]
    found = documents(fake)
    unaffected = [ref for ref in control_refs if found.get(ref) == 1]
    lost_controls = len(control_refs) - len(unaffected)
    with fake.lock:
        drafts = {(d.get("references") or {}).get("other") for d in fake.drafts.values()}
    unbooked = [ref for ref in control_refs if ref in drafts]
    stats["lost"] += lost_controls
    tally.add(orders=len(hostile) + len(controls), lost=stats["lost"], hostile=stats["hostile"],
              must_fail=stats["fatal"], logged_error=stats["logged_error"], hostile_transferred=stats["transferred"])
    assert problems == [], "\n".join(problems[:20])
    assert lost_controls == 0 and unbooked == [], f"good orders affected: {len(control_refs) - len(unaffected)} lost, {unbooked} unbooked"
    assert duplicate_count(fake) == 0

    # Again: nothing new is written, and no error is logged a second time.
    after = sum(documents(fake).values())
    errors_before = sum(1 for rows in events_by_order(db).values() for outcome, _ in rows if outcome == "error")
    second = run_iexsync(tally, "sync", "--config", config, env=env, timeout=600)
    assert_no_crash(second, allowed=(0,))  # no error repeated, nothing new
    errors_after = sum(1 for rows in events_by_order(db).values() for outcome, _ in rows if outcome == "error")
    assert sum(documents(fake).values()) == after and after >= before + len(controls)
    assert errors_after == errors_before, "the same errors were logged again"
    tally.add(documents=after - before, duplicates=duplicate_count(fake))


def file_batch(tally, books: tuple, scratch, batch: list[Hostile]) -> None:
    fake, server = books
    workspace = scratch("hostile-files")
    folder = workspace / "orders"
    folder.mkdir()
    hostile = []
    for item in batch:
        order = with_id(item.order, next(IDS))
        name = f"{next(IDS)}.json"
        write_order(folder, name, order)
        hostile.append((log_key(order, name), item, order))
    controls = control_orders(CONTROLS)
    for order in controls:
        write_order(folder, f"{order['id']}.json", order)
    config = write_config(workspace, server.url)
    check_batch(tally, fake, workspace, config, hostile, controls)


def woo_batch(tally, books: tuple, scratch, woo: WooServer, batch: list[Hostile]) -> None:
    fake, server = books
    shop = woo.use(FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"],
                                   utc_offset=timedelta(hours=1)))
    workspace = scratch("hostile-woo")
    hostile = []
    for item in batch:
        item.over_http = True
        order = with_id(item.order, next(IDS))
        refunds = order.get("refunds")
        good_refunds = isinstance(refunds, list) and all(isinstance(r, dict) for r in refunds)
        shop.add_order(order, refunds=None if good_refunds else [])
        hostile.append((str(order["id"]), item, order))
    controls = control_orders(CONTROLS)
    for order in controls:
        shop.add_order(order)
    config = write_config(workspace, server.url, shop={
        "platform": "woocommerce", "url": woo.url, "consumer_key": "${WC_CONSUMER_KEY}",
        "consumer_secret": "${WC_CONSUMER_SECRET}"})
    check_batch(tally, fake, workspace, config, hostile, controls)


def hypothesis_settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def files(tally, books, scratch, batches: int, size: int) -> None:
    @hypothesis_settings(batches)
    @given(st.lists(hostile_orders(), min_size=size, max_size=size))
    def check(batch: list[Hostile]) -> None:
        file_batch(tally, books, scratch, batch)

    check()


def over_http(tally, books, scratch, woo, batches: int, size: int) -> None:
    @hypothesis_settings(batches)
    @given(st.lists(hostile_orders(allow_bad_id=False), min_size=size, max_size=size))
    def check(batch: list[Hostile]) -> None:
        woo_batch(tally, books, scratch, woo, batch)

    check()


def test_hostile_order_files(books, scratch, tally) -> None:
    files(tally, books, scratch, batches=2, size=50)


def test_hostile_orders_from_woocommerce(books, scratch, woo, tally) -> None:
    over_http(tally, books, scratch, woo, batches=1, size=30)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_4000_hostile_order_files(books, scratch, tally) -> None:
    files(tally, books, scratch, batches=80, size=50)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_1000_hostile_orders_from_woocommerce(books, scratch, woo, tally) -> None:
    over_http(tally, books, scratch, woo, batches=20, size=50)


# --- single cases: what the random mix found, and what it cannot carry yet ------------------------
def one_bad_among_good(tmp_path: Path, tally, books: tuple, bad_text: str, key: str) -> tuple[dict, list[dict]]:
    """A folder with a bad order file (its JSON text as given) between good ones; one run."""
    fake, server = books
    folder = tmp_path / "orders"
    folder.mkdir()
    controls = control_orders(4)
    for order in controls[:2]:
        write_order(folder, f"{order['id']}.json", order)
    (folder / f"{key}.json").write_text(bad_text, encoding="utf-8")
    for order in controls[2:]:
        write_order(folder, f"zz{order['id']}.json", order)
    config = write_config(tmp_path, server.url)
    result = run_iexsync(tally, "sync", "--config", config, timeout=600)
    logged = events_by_order(tmp_path / "iexsync.db")
    in_error = any(outcome == "error" for rows in logged.values() for outcome, _ in rows)
    assert_no_crash(result, allowed=(1 if in_error else 0,))  # exit 1 exactly when an order ended in error
    found = documents(fake)
    lost = [o["id"] for o in controls if found.get(f"iexsync:woocommerce:{o['id']}:invoice") != 1]
    tally.add(orders=5, lost=len(lost), duplicates=duplicate_count(fake))
    assert lost == [], f"good orders not transferred: {lost}"
    return logged, controls


def bad_order(**changes) -> dict:
    order = demo_order(1001)
    number = next(IDS)
    order.update(id=number, number=str(number))
    for path, value in changes.items():
        node = order
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        node[parts[-1]] = value
    return order


@pytest.mark.parametrize(("change", "outcome", "message"), [
    ({"line_items.0.meta_data": 5}, "error", "line_items[0].meta_data is 5, expected a list"),
    ({"id": ""}, "error", "id is empty"),
    ({"billing.first_name": "Jens\ud800", "billing.company": "Fjord\udfffhuset"}, "booked", ""),
    ({"refunds": [{"id": 1, "total": "-1.00", "line_items": "lamp"}]}, "", ""),
])
def test_single_hostile_orders(tmp_path: Path, tally, books, change, outcome, message) -> None:
    order = bad_order(**change)
    key = str(order["id"]) if order["id"] != "" else "file:bad.json#0"
    name = "bad" if order["id"] == "" else key
    logged, _ = one_bad_among_good(tmp_path, tally, books, json.dumps(order), name)
    rows = logged.get(key, [])
    assert rows, f"{key} not logged"
    if outcome:
        assert outcome in {o for o, _ in rows}, rows
    if message:
        assert any(message in m for _, m in rows), rows


def test_a_lone_surrogate_in_a_broken_order_is_its_error_alone(tmp_path: Path, tally, books) -> None:
    order = bad_order(total="not a number")
    order["billing"]["first_name"] = "Jens\ud800"
    logged, _ = one_bad_among_good(tmp_path, tally, books, json.dumps(order), str(order["id"]))
    assert "error" in {o for o, _ in logged.get(str(order["id"]), [])}


def test_an_order_file_nested_20000_deep_is_its_error_alone(tmp_path: Path, tally, books) -> None:
    text = json.dumps(bad_order()).replace('"meta_data": [', '"meta_data": [{"key": "x", "value": '
                                                              + "[" * 20_000 + "]" * 20_000 + "},", 1)
    logged, _ = one_bad_among_good(tmp_path, tally, books, text, "deep")
    assert any(key.startswith("file:deep.json") for key in logged)


class DeepAnswers:
    """Wraps the fake shop: its answers get a value nested `depth` deep where the order says
    "__DEEP__" (the fake cannot encode such a value itself)."""

    def __init__(self, app, depth: int):
        self.app, self.depth = app, depth

    def __call__(self, environ, start_response):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        body = body.replace(b'"__DEEP__"', b"[" * self.depth + b"]" * self.depth)
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        start_response(captured["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]


@pytest.mark.xfail(strict=True, reason="a WooCommerce page nested 20,000 deep cannot be parsed, so its orders "
                   "cannot be told apart: the run ends with a clear 'instead of JSON' error (exit 75, no traceback) "
                   "at that page, every run, instead of isolating the one order")
def test_a_woocommerce_order_nested_20000_deep_is_its_error_alone(tmp_path: Path, tally, books) -> None:
    from tests.fakes.server import FakeServer

    fake, server = books
    shop = FakeWooCommerce(SECRETS["WC_CONSUMER_KEY"], SECRETS["WC_CONSUMER_SECRET"], utc_offset=timedelta(hours=1))
    controls = control_orders(4)
    deep = bad_order()
    deep["meta_data"].append({"key": "x", "value": "__DEEP__"})
    for order in [controls[0], controls[1], deep, controls[2], controls[3]]:
        shop.add_order(order)
    with FakeServer(DeepAnswers(shop.app, 20_000)) as woo_server:
        shop.site_url = woo_server.url
        config = write_config(tmp_path, server.url, shop={
            "platform": "woocommerce", "url": woo_server.url, "consumer_key": "${WC_CONSUMER_KEY}",
            "consumer_secret": "${WC_CONSUMER_SECRET}"})
        result = run_iexsync(tally, "sync", "--config", config, timeout=600)
    assert_no_crash(result, allowed=(1,))  # the deep order is an error (below)
    found = documents(fake)
    assert all(found.get(f"iexsync:woocommerce:{o['id']}:invoice") == 1 for o in controls)
    assert "error" in {o for o, _ in events_by_order(tmp_path / "iexsync.db").get(str(deep["id"]), [])}


def test_a_buyer_with_a_300_character_email_is_one_customer(tmp_path: Path, tally, books) -> None:
    """e-conomic keeps 255 characters of an e-mail: the lookup must search for what was kept."""
    fake, server = books
    folder = tmp_path / "orders"
    folder.mkdir()
    email = "a" * 290 + "@example.dk"
    config = write_config(tmp_path, server.url)
    for _ in range(3):  # one order per run: within a run the connector remembers the customer
        order = bad_order()
        order["billing"]["email"] = email
        write_order(folder, f"{order['id']}.json", order)
        assert_no_crash(run_iexsync(tally, "sync", "--config", config), allowed=(0,))
    with fake.lock:
        cards = [c for c in fake.customers.values() if c.get("email", "").startswith("aaaa")]
    tally.add(orders=3, duplicate_customers=max(0, len(cards) - 1))
    assert len(cards) == 1
