"""Shared fixtures: a demo workspace in a temp folder, and ways to run the real CLI; and
after every test, a scan of everything it wrote for the test secrets."""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

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


# --- no secret in anything a test wrote ------------------------------------------------------
# The config file is where a user puts secrets (some tests write them there on purpose):
# everything else iexsync writes (logs, ledgers, journals, cached configs, outputs) must
# never hold one.
CONFIG_SUFFIXES = (".yaml", ".yml")


@functools.cache
def known_secrets() -> dict[str, bytes]:
    """Every credential the tests and the fakes use, in each form it could leak in: plain,
    URL-encoded, and WooCommerce's Basic auth header."""
    from tests.fakes import dinero, economic, shopify, woocommerce
    from tests.reliability.support import SECRETS

    woo = woocommerce.FakeWooCommerce.__init__.__defaults__ or ()
    plain = {
        **SECRETS,
        "e-conomic app secret token": economic.APP_SECRET_TOKEN, "e-conomic grant token": economic.AGREEMENT_GRANT_TOKEN,
        "Dinero client secret": dinero.CLIENT_SECRET, "Dinero API key": dinero.API_KEY,
        "Shopify token": shopify.TOKEN, "Shopify client secret": shopify.CLIENT_SECRET,
        "WooCommerce fake key": "ck_" + "a1" * 20, "WooCommerce fake secret": "cs_" + "b2" * 20,
        "webhook secret (tests/test_webhooks.py)": "whsec-" + "3f" * 12,
    }
    assert woo[:2] == (plain["WooCommerce fake key"], plain["WooCommerce fake secret"]), "the fake's defaults moved"
    forms = {}
    for name, value in plain.items():
        forms[name] = value.encode()
        if quote(value, safe="") != value:
            forms[f"{name} (url-encoded)"] = quote(value, safe="").encode()
    for key, secret in (("WC_CONSUMER_KEY", "WC_CONSUMER_SECRET"), ("WooCommerce fake key", "WooCommerce fake secret")):
        forms[f"{key} Basic auth"] = base64.b64encode(f"{plain[key]}:{plain[secret]}".encode())
    return forms


def secrets_in(folder: Path, skip: frozenset[Path] = frozenset()) -> list[str]:
    """Where a known test secret stands in a file under `folder` (config files, and the
    folders in `skip`, aside)."""
    needles = known_secrets()
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        if path.suffix in CONFIG_SUFFIXES or skip.intersection(path.parents):
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue  # a socket or a file another process removed meanwhile
        hits += [f"{path.relative_to(folder)}: {name}" for name, needle in needles.items() if needle in data]
    return hits


_SCANNED: set[Path] = set()  # the tmp_paths scanned after their test


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_test_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session, the same scan over the folders of tmp_path_factory
    (a module's fixtures, hypothesis examples) that no test's own scan covered."""
    yield
    hits = secrets_in(tmp_path_factory.getbasetemp(), frozenset(_SCANNED))
    if hits:
        pytest.fail("a test secret was written to a file:\n" + "\n".join(hits[:20]), pytrace=False)


@pytest.fixture(autouse=True)
def no_secret_in_what_the_test_wrote(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that has a tmp_path: no known secret in any file under it (the log
    database with its WAL, ledgers, journals, outputs, the remembered config)."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if folder is not None and folder.exists():
        _SCANNED.add(folder)
        hits = secrets_in(folder)
        if hits:
            pytest.fail("a test secret was written to a file:\n" + "\n".join(hits[:20]), pytrace=False)


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
