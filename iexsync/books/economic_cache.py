"""Caches for one run: values computed once per key, and the most recent answers.

OnceCache: a per-key value computed once, even when threads ask for it together.

The engine may run orders concurrently; two orders from the same buyer must not both
find "no such customer" and create two. A failed computation is not cached: the next
order tries again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class OnceCache(Generic[V]):
    def __init__(self) -> None:
        self._values: dict[Hashable, V] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        if key in self._values:
            return self._values[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._values


K = TypeVar("K", bound=Hashable)


class Recent(Generic[K, V]):
    """The newest `size` values, for answers a later call in the same run can reuse (a
    draft's totals when it is booked, a booked invoice's head when it is credited).
    Bounded, so a 50,000-order import holds no more than a cron run does; a miss costs one
    read, never a wrong answer."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._values: OrderedDict[K, V] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._guard:
            return self._values.get(key)

    def put(self, key: K, value: V) -> None:
        with self._guard:
            self._values[key] = value
            self._values.move_to_end(key)
            if len(self._values) > self._size:
                self._values.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._guard:
            self._values.pop(key, None)
