"""What every benchmark shares: the figure it reports and how processes are timed."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Figure:
    name: str
    value: float  # what iexsync took
    bound: float  # the physical limit or reference, measured in the same run
    goal: float  # the ratio value / bound must not exceed this
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.value / self.bound if self.bound else float("inf")

    @property
    def ok(self) -> bool:
        return self.ratio <= self.goal

    def to_json(self) -> dict:
        return {**asdict(self), "ratio": round(self.ratio, 3), "ok": self.ok}


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
