"""What a run reports: its events for the summary, counted by outcome and bounded in memory.

The log keeps every event; a run's result keeps at most KEPT_EVENTS of them for the summary
table, so a 50,000-order import holds no more than a cron run. Errors are what cron's
output must show, so an error takes the place of an older non-error once the room is full.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


# A run keeps this many of its events for the summary (errors first in line); the log keeps
# them all. A 50,000-order import must not hold 50,000 events in memory.
KEPT_EVENTS = 1000


@dataclass
class Event:
    order: str
    state: str
    outcome: str
    document: str
    message: str


@dataclass
class RunResult:
    run: str = ""
    counts: Counter = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)  # what this run logged, at most KEPT_EVENTS
    events_not_kept: int = 0
    planned: list[dict[str, Any]] = field(default_factory=list)  # --dry-run: what would be sent
    orders_seen: int = 0
    busy: int = 0  # orders another writer held
    _kept_errors: int = field(default=0, repr=False)

    @property
    def errors(self) -> int:
        return self.counts["error"]

    def add(self, event: Event) -> None:
        """Count the event, and keep it for the summary while there is room; an error takes
        the place of the oldest non-error. The caller serialises calls (orders run on threads)."""
        self.counts[event.outcome] += 1
        if len(self.events) < KEPT_EVENTS:
            self.events.append(event)
            self._kept_errors += event.outcome == "error"
            return
        self.events_not_kept += 1
        if event.outcome == "error" and self._kept_errors < KEPT_EVENTS:
            index = next(i for i, kept in enumerate(self.events) if kept.outcome != "error")
            del self.events[index]
            self.events.append(event)
            self._kept_errors += 1
