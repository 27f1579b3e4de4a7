"""Faithful fake vendor APIs, served over real HTTP on loopback, for tests and benchmarks."""
