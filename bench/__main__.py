"""Run the benchmarks and print each figure against its bound and goal.

Every figure is a ratio: what iexsync took ÷ a bound measured (or counted) in the same
run. A benchmark that fails is reported as failed and the others still run. Exit status:
0 when every goal is met, 1 when one is missed or a benchmark failed.

Environment: BENCH_WORKERS=N runs the throughput benchmark with transfer.workers: N
(e.g. 1, the sequential engine) instead of iexsync's default.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
import traceback

# One module per figure (see each module's docstring for what it measures).
BENCHMARKS = ["calls_per_order", "throughput", "idle_run", "log_search", "memory", "woocommerce_paging",
              "dinero_throughput", "shopify_throughput"]


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
    figures = []
    failed: list[tuple[str, str]] = []
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        print(f"== {name}", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            for figure in module.run(args.quick):
                figures.append(figure)
                goal = "info" if figure.goal is None else f"goal ≤ {figure.goal}"
                print(f"{'ok ' if figure.ok else 'MISS'} {figure.name}: {_fmt(figure.value)} / {_fmt(figure.bound)} "
                      f"= {_fmt(figure.ratio)} ({goal})", file=sys.stderr, flush=True)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the others
            traceback.print_exc(file=sys.stderr)
            failed.append((name, f"{type(exc).__name__}: {exc}"))
            print(f"FAILED {name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        print(f"   ({name}: {time.perf_counter() - began:.1f} s)", file=sys.stderr, flush=True)
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


if __name__ == "__main__":
    sys.exit(main())
