"""The guard every shop's order parser runs under: whatever shape a shop's JSON has, a
problem reading it is that order's OrderInvalid naming the field, never the run's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from iexsync.errors import OrderInvalid
from iexsync.money import MoneyError

T = TypeVar("T")


def read_guarded(subject: tuple[str, str], read: Callable[[], T]) -> T:
    """Run a reader. `subject` names what is read, e.g. ("the order is", "the order has")."""
    try:
        return read()
    except OrderInvalid:
        raise
    except MoneyError as exc:
        raise OrderInvalid(str(exc)) from None
    except RecursionError:
        raise OrderInvalid(f"{subject[0]} nested too deeply to be read") from None
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, ArithmeticError) as exc:
        # A shape no check foresaw: still this order's error alone, never the run's.
        raise OrderInvalid(
            f"{subject[1]} a field of an unexpected shape ({type(exc).__name__}: {short(exc)})") from None


def short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."
