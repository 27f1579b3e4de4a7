"""Run the benchmarks and print each figure against its bound and goal."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = ["log_search"]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes: under a minute")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    args = parser.parse_args()
    figures = []
    for name in args.only or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        for figure in module.run(args.quick):
            figures.append(figure)
            print(f"{'ok ' if figure.ok else 'MISS'} {figure.name}: {figure.value:.4g} / {figure.bound:.4g} "
                  f"= {figure.ratio:.2f} (goal ≤ {figure.goal})", file=sys.stderr)
    from tabulate import tabulate

    print(tabulate(
        [(f.name, f"{f.value:.4g}", f"{f.bound:.4g}", f"{f.ratio:.2f}", f"≤ {f.goal}", "ok" if f.ok else "MISSED")
         for f in figures],
        headers=("figure", "value", "bound", "ratio", "goal", ""),
    ))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump([f.to_json() for f in figures], handle, indent=2)
    return 0 if all(f.ok for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
