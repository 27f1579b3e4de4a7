"""A per-key cache whose value is computed once, even when threads ask for it together.

The engine may run orders concurrently; two orders from the same buyer must not both
find "no such customer" and create two. A failed computation is not cached: the next
order tries again.
"""

from __future__ import annotations

import threading
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
