"""A module imported at its first use, for code an idle run never reaches.

An idle cron run (nothing changed) decides no order, yet importing what deciding needs (the
canonical order, documents, the planner, the mapping: two dozen dataclasses built at import)
was a fifth of its start-up. The engine holds those modules as `LazyModule`s: each is
imported the first time one of its names is used, by whichever thread gets there first.
(importlib.util.LazyLoader does the same, but is not thread-safe before Python 3.12.3, and
the engine decides orders on a pool of threads.)
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        # import_module takes the import lock, and once the module is in sys.modules it is a lookup
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
