"""Run the benchmarks and print each figure against its bound and goal.

Every figure is a ratio: what iexsync took ÷ a bound measured (or counted) in the same
run. A benchmark that fails is reported as failed and the others still run. Exit status:
0 when every goal is met, 1 when one is missed or a benchmark failed.

In a full run each benchmark runs in a process of its own (`python -m bench --only NAME`),
so none inherits another's heap, threads or fakes: after the 10,000-order benchmarks, the
webhook receiver's p99 measured half as much again in the same process as in a fresh one.
`--quick` runs them in this process, to stay under a minute.

Environment: BENCH_WORKERS=N runs the throughput benchmark with transfer.workers: N
(e.g. 1, the sequential engine) instead of iexsync's default.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# One module per benchmark (see each module's docstring for what it measures): one line each.
BENCHMARKS = [
    "calls_per_order",
    "throughput",
    "idle_run",
    "log_search",
    "memory",
    "woocommerce_paging",
    "beancount_import",
    "webhooks",
    "dinero_throughput",
    "woocommerce_recheck",
    "shopify_throughput",
]


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "inf"
    return f"{value:.4g}"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    args = parser.parse_args()
    figures: list = []
    failed: list[tuple[str, str]] = []
    started = time.perf_counter()
    names = args.only or BENCHMARKS
    apart = len(names) > 1 and not args.quick  # --quick is a smoke check in one process: its minute is kept
    for name in names:  # each of several in its own process, which prints what this one would
        found, why = _run_apart(name, args.quick) if apart else _run_here(name, args.quick)
        figures += found
        if why:
            failed.append((name, why))
    from tabulate import tabulate

    rows = [(f.name, _fmt(f.value), _fmt(f.bound), f.unit, _fmt(f.ratio), "—" if f.goal is None else f"≤ {f.goal}",
             ("ok" if f.ratio <= f.goal else "MISSED") if f.goal is not None else "info") for f in figures]
    rows += [(f"{name} (benchmark failed: {why[:60]})", "", "", "", "", "", "FAILED") for name, why in failed]
    print(tabulate(rows, headers=("figure", "value", "bound", "unit", "ratio", "goal", "")))
    print(f"({'--quick, ' if args.quick else ''}{time.perf_counter() - started:.0f} s)")
    if args.json:
        entries = [f.to_json() for f in figures]
        entries += [{"name": name, "value": None, "bound": None, "ratio": None, "goal": None, "ok": False,
                     "error": why} for name, why in failed]
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, indent=2, ensure_ascii=False)
    return 0 if not failed and all(f.ok for f in figures) else 1


def _run_here(name: str, quick: bool) -> tuple[list, str]:
    """The benchmark's figures, run in this process (each printed as it comes), and why it failed ("" if not)."""
    print(f"== {name}", file=sys.stderr, flush=True)
    began = time.perf_counter()
    figures, why = [], ""
    try:
        module = importlib.import_module(f"bench.{name}")
        for figure in module.run(quick):
            figures.append(figure)
            goal = "info" if figure.goal is None else f"goal ≤ {figure.goal}"
            print(f"{'ok ' if figure.ok else 'MISS'} {figure.name}: {_fmt(figure.value)} / {_fmt(figure.bound)} "
                  f"= {_fmt(figure.ratio)} ({goal})", file=sys.stderr, flush=True)
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the others
        traceback.print_exc(file=sys.stderr)
        why = f"{type(exc).__name__}: {exc}"
        print(f"FAILED {name}: {why}", file=sys.stderr, flush=True)
    print(f"   ({name}: {time.perf_counter() - began:.1f} s)", file=sys.stderr, flush=True)
    return figures, why


def _run_apart(name: str, quick: bool) -> tuple[list, str]:
    """The benchmark run as `python -m bench --only NAME` (its notes and figures on stderr as
    they come), its figures read back from its --json file."""
    from bench.common import REPO, Figure

    with tempfile.TemporaryDirectory(prefix="iexsync-bench-") as folder:
        path = Path(folder) / "figures.json"
        command = [sys.executable, "-m", "bench", "--only", name, "--json", str(path), *(["--quick"] if quick else [])]
        done = subprocess.run(command, cwd=REPO, stdout=subprocess.DEVNULL, env={**os.environ})
        if not path.exists():
            why = f"its process exited {done.returncode} without figures"
            print(f"FAILED {name}: {why}", file=sys.stderr, flush=True)
            return [], why
        entries = json.loads(path.read_text(encoding="utf-8"))
    figures = [Figure(e["name"], e["value"], e["bound"], e["goal"], e["unit"]) for e in entries if "error" not in e]
    return figures, "; ".join(e["error"] for e in entries if "error" in e)


if __name__ == "__main__":
    sys.exit(main())
