"""Hypothesis strategies for malformed and hostile WooCommerce-shaped orders.

Each generated order is demo order 1001 (1646.25 DKK, valid) with one to three *defects*
applied. A defect knows whether it certainly makes the order unusable (`fatal`: the run
must log the order as an error) or may leave it valid (a 1 MB name, unicode, unknown
keys: transferred or an error, either is fine — but logged, and never a crash).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

from tests.reliability.support import demo_order

TEMPLATE = demo_order(1001)
MEGABYTE = 1_000_000

MONEY_FIELDS = [
    ("total",), ("line_items", 0, "total"), ("line_items", 1, "total"), ("line_items", 0, "subtotal"),
    ("line_items", 0, "total_tax"), ("shipping_lines", 0, "total"), ("shipping_lines", 0, "total_tax"),
    ("line_items", 0, "taxes", 0, "total"),
]
REQUIRED = [("total",), ("currency",), ("status",), ("line_items", 0, "total"), ("line_items", 0, "quantity"),
            ("shipping_lines", 0, "total"), ("tax_lines", 0, "rate_id")]
TEXT_FIELDS = [
    ("billing", "first_name"), ("billing", "last_name"), ("billing", "company"), ("billing", "address_1"),
    ("billing", "city"), ("billing", "email"), ("billing", "phone"), ("shipping", "address_1"),
    ("line_items", 0, "name"), ("line_items", 1, "sku"), ("customer_note",), ("payment_method_title",),
    ("shipping_lines", 0, "method_title"), ("number",),
]
NOT_NUMBERS = ["NaN", "nan", "-NaN", "sNaN", "inf", "-inf", "Infinity", "-Infinity", "1e309", "abc", "", " ",
               "12,50", "0x10", "1_000", "١٢٣", None, True, [], {}, {"amount": "1.00"}, float("nan"), float("inf")]
HUGE = ["1e12", "-1e12", "9" * 40, "1e30", 10**12, 10**30, -(10**15), "123456789012345.67", 1e300]
# Lone surrogates ("\ud800") are valid in JSON escapes but in no UTF-8 text: the reader turns
# them into U+FFFD, and the log stores them so even when the order is broken otherwise.
LONE_SURROGATES = ["\ud800", "x\udfffy"]
NASTY_TEXT = [
    *LONE_SURROGATES, "\x00", "A\x00B", "\u202eevil\u202c", "😀" * 50, "Ω≈ç√∫˜µ≤", "ﷺ" * 20, "\u200b" * 100,
    "<script>alert(1)</script>", "'; DROP TABLE events; --", "{{ 7*7 }}", "${HOME}", "%s%s%n", "\\", "\n\r\t",
    "ǅ̸̛̖̟̅ͯ" * 30, "\uffff", "\U0010ffff",
]


@dataclass
class Defect:
    name: str  # e.g. "negative_quantity line_items[0].quantity"
    fatal: bool  # the order must end as an error
    apply: Callable[[dict[str, Any]], None]
    field: str = ""  # the field an error message must name (fatal defects; "" if it may say it otherwise)
    # Over HTTP the WooCommerce connector reads refunds from /orders/<id>/refunds, not from
    # the order's own summary, so a broken summary does not matter there.
    fatal_over_http: bool | None = None


def _path_text(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _set(path: tuple, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(order: dict[str, Any]) -> None:
        _at(order, path, value)

    apply.path = path  # type: ignore[attr-defined]
    return apply


def _at(order: dict[str, Any], path: tuple, value: Any) -> None:
    node: Any = order
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return  # an earlier defect removed the way here
    if isinstance(node, (dict, list)):
        try:
            node[path[-1]] = copy.deepcopy(value)
        except (IndexError, TypeError):
            pass


def _delete(path: tuple) -> Callable[[dict[str, Any]], None]:
    def apply(order: dict[str, Any]) -> None:
        node: Any = order
        for part in path[:-1]:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return
        if isinstance(node, dict):
            node.pop(path[-1], None)

    apply.path = path  # type: ignore[attr-defined]
    return apply


def _overlap(a: tuple, b: tuple) -> bool:
    return a[: len(b)] == b or b[: len(a)] == a


def nested(depth: int, leaf: Any = "deep") -> Any:
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


# how → whether the order must be an error: an id that is text or a negative number is
# still an id (iexsync does not care what a shop's ids look like), the rest is not.
BAD_IDS = {"missing": True, "null": True, "list": True, "float": True, "empty": True,
           "text": False, "negative": False}


@st.composite
def defects(draw: st.DrawFn, allow_bad_id: bool = True) -> Defect:
    kind = draw(st.sampled_from([
        "missing", "wrong_type", "huge", "negative_quantity", "not_a_number", "unknown_vat", "megabyte_string",
        "unicode", "deep_nesting", "total_mismatch", "wrong_shape", "extra_keys", "bad_date", "bad_currency",
        *(["bad_id"] if allow_bad_id else []),
    ]))
    if kind == "bad_id":
        # The writer turns the marker into a value unique to the file (see write_order).
        how = draw(st.sampled_from(sorted(BAD_IDS)))
        return Defect(f"bad_id {how}", BAD_IDS[how], _set(("id",), f"<bad-id:{how}>"), "id")
    if kind == "missing":
        path = draw(st.sampled_from(REQUIRED))
        return Defect(f"missing {_path_text(path)}", True, _delete(path), str(path[-1]))
    if kind == "wrong_type":
        path = draw(st.sampled_from(MONEY_FIELDS + [("line_items", 0, "quantity")]))
        value = draw(st.sampled_from([None, True, [], {}, [1, 2], {"value": 1}, "twelve"]))
        return Defect(f"wrong_type {_path_text(path)}={value!r}", True, _set(path, value), str(path[-1]))
    if kind == "huge":
        path = draw(st.sampled_from(MONEY_FIELDS + [("line_items", 0, "quantity")]))
        value = draw(st.sampled_from(HUGE))
        return Defect(f"huge {_path_text(path)}={str(value)[:20]}", True, _set(path, value), str(path[-1]))
    if kind == "negative_quantity":
        value = draw(st.one_of(st.integers(-10**6, 0), st.sampled_from(["-1", "0", "-0.5", -2.5, "0.0"])))
        path = ("line_items", draw(st.integers(0, 1)), "quantity")
        return Defect(f"negative_quantity {_path_text(path)}={value!r}", True, _set(path, value), "quantity")
    if kind == "not_a_number":
        path = draw(st.sampled_from(MONEY_FIELDS + [("line_items", 0, "quantity")]))
        value = draw(st.sampled_from(NOT_NUMBERS))
        # Decimal reads "١٢٣" (Arabic-Indic digits) and "1_000" as numbers: they may add up.
        fatal = value not in ("١٢٣", "1_000")
        return Defect(f"not_a_number {_path_text(path)}={value!r}", fatal, _set(path, value), str(path[-1]))
    if kind == "unknown_vat":
        value = draw(st.sampled_from(["37.5", "-5", "150", "abc", 7.77, "NaN", 99.9, "12"]))
        return Defect(f"unknown_vat tax_lines[0].rate_percent={value!r}", True,
                      _set(("tax_lines", 0, "rate_percent"), value))
    if kind == "megabyte_string":
        path = draw(st.sampled_from(TEXT_FIELDS))
        unit = draw(st.sampled_from(["x", "ø", "😀", "\u202e"]))
        value = unit * (MEGABYTE // len(unit.encode()))
        return Defect(f"megabyte_string {_path_text(path)}", False, _set(path, value))
    if kind == "unicode":
        path = draw(st.sampled_from(TEXT_FIELDS))
        value = draw(st.one_of(st.sampled_from(NASTY_TEXT), st.text(min_size=1, max_size=40)))
        return Defect(f"unicode {_path_text(path)}={value!r:.40}", False, _set(path, value))
    if kind == "deep_nesting":
        depth = draw(st.integers(10, 300))
        where = draw(st.sampled_from(["meta", "text", "line"]))
        if where == "meta":
            return Defect(f"deep_nesting meta_data depth {depth}", False,
                          _set(("meta_data", 1, "value"), nested(depth)))
        if where == "text":
            path = draw(st.sampled_from(TEXT_FIELDS))
            return Defect(f"deep_nesting {_path_text(path)} depth {depth}", True, _set(path, nested(depth)),
                          str(path[-1]))
        return Defect(f"deep_nesting line_items[0] depth {depth}", True, _set(("line_items", 0), nested(depth)), "line_items")
    if kind == "total_mismatch":
        delta = draw(st.sampled_from(["1.00", "-0.05", "100.00", "0.50", "-1646.25"]))
        total = f"{float(TEMPLATE['total']) + float(delta):.2f}"
        return Defect(f"total_mismatch total={total}", True, _set(("total",), total), "total")
    if kind == "wrong_shape":
        path = draw(st.sampled_from([("line_items",), ("billing",), ("tax_lines",), ("line_items", 0, "taxes"),
                                     ("shipping_lines",), ("meta_data",), ("line_items", 0, "meta_data"), ("refunds",)]))
        value = draw(st.sampled_from(["lamp", 5, {"0": {}}, [1, 2, 3], ["x"], True]))
        # meta_data entries that are not {key, value} objects are skipped: a list of junk is still a list.
        fatal = not (path[-1] == "meta_data" and isinstance(value, list))
        return Defect(f"wrong_shape {_path_text(path)}={value!r}", fatal, _set(path, value),
                      fatal_over_http=fatal and path != ("refunds",))
    if kind == "extra_keys":
        key = "x-" + draw(st.text(min_size=1, max_size=20))
        value = draw(st.sampled_from([None, nested(5), "x" * 100, [1, {"a": []}], float("nan")]))
        return Defect(f"extra_keys {key!r:.20}", False, _set((key,), value))
    if kind == "bad_date":
        path = draw(st.sampled_from([("date_created_gmt",), ("date_modified_gmt",)]))
        value = draw(st.sampled_from(["yesterday", "2026-13-45T99:99:99", 12345, [], "0000-00-00T00:00:00", "9999-99"]))
        # An empty GMT date falls back to the local one, which is fine.
        return Defect(f"bad_date {_path_text(path)}={value!r}", value != [], _set(path, value), str(path[-1]))
    value = draw(st.sampled_from(["kroner", "", "DK", "DKKK", 208, None, "€€€"]))
    return Defect(f"bad_currency currency={value!r}", True, _set(("currency",), value), "currency")


class Hostile:
    def __init__(self, order: dict[str, Any], defects: list[Defect]):
        self.order, self.defects = order, defects

    over_http = False  # set by the WooCommerce test

    @property
    def fatal(self) -> bool:
        return any(self.is_fatal(d) for d in self.defects)

    def is_fatal(self, defect: Defect) -> bool:
        if self.over_http and defect.fatal_over_http is not None:
            return defect.fatal_over_http
        return defect.fatal

    def describe(self) -> str:
        return "; ".join(d.name for d in self.defects)

    def __repr__(self) -> str:  # hypothesis prints failing examples: the defects, not 1 MB strings
        return f"Hostile({self.describe()!r})"


@st.composite
def hostile_orders(draw: st.DrawFn, allow_bad_id: bool = True) -> Hostile:
    drawn = draw(st.lists(defects(allow_bad_id), min_size=1, max_size=3))
    chosen: list[Defect] = []
    for defect in drawn:  # two defects on one field (or a field and its parent): the first only
        if not any(_overlap(defect.apply.path, other.apply.path) for other in chosen):  # type: ignore[attr-defined]
            chosen.append(defect)
    order = copy.deepcopy(TEMPLATE)
    for defect in chosen:
        defect.apply(order)
    return Hostile(order, chosen)


def with_id(order: dict[str, Any], number: int) -> dict[str, Any]:
    """The order with its id (and number) `number` — or, for a bad_id defect, a bad id that
    no other order in the run shares."""
    order = dict(order)
    marker = order.get("id")
    order["number"] = order["number"] if order.get("number") != TEMPLATE["number"] else str(number)
    if isinstance(marker, str) and marker.startswith("<bad-id:"):
        how = marker[len("<bad-id:"):-1]
        values = {"null": None, "list": [number], "float": number + 0.5, "empty": "",
                  "text": f"order-{number}", "negative": -number}
        if how == "missing":
            order.pop("id")
        else:
            order["id"] = values[how]
    else:
        order["id"] = number
    return order


def write_order(folder: Path, name: str, order: dict[str, Any]) -> None:
    """As WooCommerce would never write it, but a JSON file can hold it (NaN included)."""
    (folder / name).write_text(json.dumps(order, allow_nan=True), encoding="utf-8")


def log_key(order: Any, filename: str) -> str:
    """The order id iexsync logs a file's order under (mirrors shops/file.py)."""
    raw_id = order.get("id") if isinstance(order, dict) else None
    if isinstance(raw_id, (int, str)) and not isinstance(raw_id, bool) and str(raw_id):
        return str(raw_id)
    return f"file:{filename}#0"


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
