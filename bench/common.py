"""What every benchmark shares: the figure it reports and how processes are timed."""

from __future__ import annotations

import functools
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    """One measured value against its bound, measured in the same run.

    `goal` is the largest acceptable value / bound; None marks a figure that is reported
    for information only (it cannot miss).
    """

    name: str
    value: float  # what iexsync took (seconds, calls, bytes: see `unit`)
    bound: float  # the physical limit or reference, measured or counted in the same run
    goal: float | None  # the ratio value / bound must not exceed this
    unit: str = "s"

    @property
    def ratio(self) -> float:
        if self.bound:
            return self.value / self.bound
        return 0.0 if self.value == 0 else math.inf

    @property
    def ok(self) -> bool:
        return self.goal is None or self.ratio <= self.goal

    def to_json(self) -> dict:
        ratio = self.ratio
        return {"name": self.name, "value": self.value, "bound": self.bound,
                "ratio": round(ratio, 3) if math.isfinite(ratio) else None,
                "goal": self.goal, "ok": self.ok, "unit": self.unit}


def note(text: str) -> None:
    """A line of detail under a benchmark's figures (stderr: the table stays on stdout)."""
    print(f"     {text}", file=sys.stderr, flush=True)


def iexsync_command() -> list[str]:
    """The installed console script beside this Python, as a user would run it."""
    script = Path(sys.executable).with_name("iexsync")
    return [str(script)] if script.exists() else [sys.executable, "-m", "iexsync"]


def time_process(command: list[str], repeat: int, env: dict | None = None, cwd: Path | None = None) -> float:
    """The median wall time of `command` over `repeat` runs (one warm-up run first)."""
    full_env = {**os.environ, **(env or {})}
    times = []
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
        if attempt:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_medians(calls: dict[str, Callable[[], object]], rounds: int, batch: int = 1) -> dict[str, float]:
    """Seconds per call of each, the median of `rounds` rounds in which they take turns
    (after one warm-up round), `batch` calls at a time: a busy moment on the machine then
    hits all of them alike, instead of whichever loop happened to run through it."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for attempt in range(rounds + 1):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(batch):
                call()
            if attempt:
                times[name].append((time.perf_counter() - start) / batch)
    return {name: statistics.median(values) for name, values in times.items()}


def time_alternating(commands: dict[str, list[str]], repeat: int, env: dict | None = None,
                     cwd: Path | None = None) -> dict[str, float]:
    """The median wall time of each command (a whole process), the commands taking turns."""
    full_env = {**os.environ, **(env or {})}
    return alternating_medians({
        name: functools.partial(subprocess.run, command, check=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=full_env, cwd=cwd)
        for name, command in commands.items()
    }, repeat)