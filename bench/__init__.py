"""Benchmarks: each figure is a ratio against a bound measured in the same run, so machine
noise cancels. Run `python -m bench` (all), `--quick`, `--json FILE`, `--only NAME`."""
