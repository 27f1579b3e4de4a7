"""Shared fixtures: a demo workspace in a temp folder, and ways to run the real CLI."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "orders"


def write_config(path: Path, overrides: dict | None = None) -> Path:
    """The demo config with `overrides` merged in (one level deep per section)."""
    config = yaml.safe_load((REPO / "config.example.yaml").read_text())
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        elif value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A copy of the demo (orders + config) in a temp folder; returns the config path."""
    shutil.copytree(EXAMPLES, tmp_path / "examples" / "orders")
    return write_config(tmp_path / "config.yaml")


@pytest.fixture(scope="module")
def server():
    """A fake WooCommerce on loopback, one per test module (each stop costs time)."""
    from tests.fakes.woocommerce import WooServer

    with WooServer() as running:
        yield running


@pytest.fixture
def cli():
    """Run the CLI in-process through click's runner: cli("sync", "--config", path)."""
    from iexsync.cli import cli as command

    def run(*args: str, env: dict | None = None):
        return CliRunner().invoke(command, list(map(str, args)), env=env, catch_exceptions=False)

    return run


def run_process(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real `iexsync` as a separate process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "iexsync", *map(str, args)], capture_output=True, text=True, timeout=timeout,
        env=full_env, stdin=subprocess.DEVNULL,
    )


def make_orders(folder: Path, count: int, start: int = 5000, refund_every: int = 0) -> list[str]:
    """`count` valid completed orders built from demo order 1001, one file each; their numbers.

    With `refund_every` N, every Nth order carries a refund of 100.00 (id = order id * 10).
    """
    template = json.loads((EXAMPLES / "1001.json").read_text())
    folder.mkdir(parents=True, exist_ok=True)
    numbers = []
    for index in range(count):
        order = copy.deepcopy(template)
        order["id"] = start + index
        order["number"] = str(start + index)
        if refund_every and index % refund_every == 0:
            order["refunds"] = [{"id": (start + index) * 10, "reason": "Returned", "total": "-100.00"}]
        (folder / f"{start + index}.json").write_text(json.dumps(order))
        numbers.append(str(start + index))
    return numbers


def expected_references(folder: Path) -> list[str]:
    """The documents a clean run must leave for completed orders in `folder` (demo config)."""
    refs = []
    for path in folder.glob("*.json"):
        order = json.loads(path.read_text())
        refs.append(f"iexsync:woocommerce:{order['id']}:invoice")
        refs += [f"iexsync:woocommerce:{order['id']}:credit_note:{r['id']}" for r in order.get("refunds", [])]
    return sorted(refs)


def ledger_entries(path: Path) -> list[str]:
    """Every iexsync reference in a Beancount ledger, duplicates kept."""
    if not path.exists():
        return []
    return [line.split('"')[1] for line in path.read_text().splitlines() if line.startswith("  iexsync-ref:")]


def bean_check(path: Path) -> list:
    from beancount import loader

    _, errors, _ = loader.load_file(str(path))
    return errors
