"""The guard both shop parsers run under: a shape no check foresaw is that order's error."""

from __future__ import annotations

import pytest

from iexsync.errors import OrderInvalid
from iexsync.money import MoneyError
from iexsync.shops.guard import read_guarded

SUBJECT = ("the order is", "the order has")


def _raise(exc: BaseException):
    def read():
        raise exc
    return read


@pytest.mark.parametrize("exc", [TypeError("unsupported operand"), KeyError("total"), IndexError("list index"),
                                 AttributeError("'str' object has no attribute 'get'"), ValueError("bad")])
def test_an_unforeseen_shape_is_the_orders_error_naming_it(exc) -> None:
    with pytest.raises(OrderInvalid, match=rf"^the order has a field of an unexpected shape \({type(exc).__name__}: "):
        read_guarded(SUBJECT, _raise(exc))


def test_deep_nesting_and_money_errors_read_plainly_and_a_long_message_is_cut() -> None:
    with pytest.raises(OrderInvalid, match=r"^the order is nested too deeply to be read$"):
        read_guarded(SUBJECT, _raise(RecursionError()))
    with pytest.raises(OrderInvalid, match=r"^total is 'x', not an amount$"):
        read_guarded(SUBJECT, _raise(MoneyError("total is 'x', not an amount")))
    with pytest.raises(OrderInvalid) as cut:
        read_guarded(SUBJECT, _raise(ValueError("y" * 200)))
    assert str(cut.value).endswith("y" * 77 + "...)")
