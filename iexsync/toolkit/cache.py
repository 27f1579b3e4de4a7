"""Caches: values computed once per key, the most recent answers, and what is remembered
between runs.

OnceCache: a per-key value computed once, even when threads ask for it together.

The engine may run orders concurrently; two orders from the same buyer must not both
find "no such customer" and create two. A failed computation is not cached: the next
order tries again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

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

    def clear(self) -> None:
        """Forget every value (a remembered one turned out stale): each is computed anew."""
        with self._guard:
            self._values.clear()


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


class Remembered:
    """The engine's Memory (kept in the log between runs) under one agreement's prefix, and
    which values this run took from it unchecked: those are checked again when a write
    that used them is rejected. Without a memory (a connector used on its own) it
    remembers nothing."""

    def __init__(self, memory: Any = None, prefix: str = "") -> None:
        self._memory = memory
        self._prefix = prefix
        self._recalled: dict[str, str] = {}
        self._guard = threading.Lock()

    def recall(self, key: str) -> str | None:
        if self._memory is None:
            return None
        value = self._memory.recall(self._prefix + key)
        if value is not None:
            with self._guard:
                self._recalled[key] = value
        return value

    def remember(self, key: str, value: str) -> None:
        if self._memory is not None:
            self._memory.remember(self._prefix + key, value)

    def forget(self, key: str) -> None:
        with self._guard:
            self._recalled.pop(key, None)
        if self._memory is not None:
            self._memory.forget(self._prefix + key)

    def unchecked(self) -> dict[str, str]:
        """Key → value of everything recalled in this run and not checked since."""
        with self._guard:
            return dict(self._recalled)

    def checked(self, key: str) -> None:
        with self._guard:
            self._recalled.pop(key, None)

    def forget_gone(self, gone: Callable[[str, str], bool | None]) -> list[str]:
        """After a write refused because of something taken on trust: ask `gone(key, value)`
        of each entry recalled unchecked (None: not this write's concern), forget the gone
        ones, and return their keys."""
        stale = []
        for key, value in self.unchecked().items():
            answer = gone(key, value)
            if answer is None:
                continue
            self.checked(key)
            if answer:
                stale.append(key)
        for key in stale:
            self.forget(key)
        return stale
