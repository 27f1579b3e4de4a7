"""Secrets are declared in the config schema (`"writeOnly": true` on the field), by the core
and by each connector's own CONFIG_SCHEMA: redaction of logs, output and exceptions, the
config's own error messages and "this file holds secrets" all follow the declaration,
not a list of key names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from iexsync import config, redaction, registry
from tests.contract.memory import MemoryBooks

REPO = Path(__file__).resolve().parent.parent


def vault_schema(declared: bool) -> dict[str, Any]:
    # "passphrase" is a name no rule by name would take for a secret: only the declaration can
    return {"type": "object", "properties": {
        "journal": {"type": "string"},
        "passphrase": {"type": "string", "minLength": 4, **({"writeOnly": True} if declared else {})},
    }}


class VaultBooks(MemoryBooks):
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = vault_schema(declared=True)


class UndeclaredVaultBooks(MemoryBooks):
    CONFIG_SCHEMA: ClassVar[dict[str, Any]] = vault_schema(declared=False)


CONNECTORS = {True: "tests.test_config_secrets:VaultBooks", False: "tests.test_config_secrets:UndeclaredVaultBooks"}


def vault_config(folder: Path, passphrase: str | int) -> Path:
    (folder / "orders").mkdir(exist_ok=True)
    path = folder / "config.yaml"
    path.write_text("shop: {platform: file, path: orders}\n"
                    f"accounting: {{system: vault, journal: books.json, passphrase: {passphrase}}}\n"
                    "transfer: {allowed_states: [completed]}\n")
    return path


@pytest.fixture
def vault(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def use(declared: bool) -> None:
        monkeypatch.setitem(registry.BOOKS, "vault", CONNECTORS[declared])

    return use


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared-control"])
def test_a_secret_declared_only_in_a_connectors_schema_is_redacted(tmp_path: Path, vault, declared: bool) -> None:
    vault(declared)
    secret = f"vault-pass-{os.getpid()}-{int(declared)}-q8Zr"
    settings = config.load(vault_config(tmp_path, secret))
    assert settings.accounting["passphrase"] == secret
    masked = redaction.redact(f"POST /x?passphrase={secret} failed")
    assert masked == (f"POST /x?passphrase={redaction.MASK} failed" if declared else f"POST /x?passphrase={secret} failed")
    assert settings.holds_secrets is declared  # `chmod 600` is asked for a file that holds one


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared-control"])
def test_a_mistyped_declared_secret_is_not_quoted_by_the_config_error(tmp_path: Path, vault, cli, declared: bool) -> None:
    vault(declared)
    number = 918273645501920 + int(declared)  # an all-digit secret YAML reads as a number: a type error
    result = cli("config", "check", "--config", vault_config(tmp_path, number))
    assert result.exit_code == 78
    assert "accounting.passphrase" in result.output
    assert (str(number) in result.output) is not declared, result.output


def test_a_remembered_config_still_registers_its_declared_secrets(tmp_path: Path, vault) -> None:
    """The second load takes the remembered config (no schema, no jsonschema imported) and
    registers the secrets the schema declared when it passed."""
    path = vault_config(tmp_path, "vault-remembered-7Hq2")
    code = f"""
import sys
from iexsync import config, redaction, registry
registry.BOOKS["vault"] = {CONNECTORS[True]!r}
config.load({str(path)!r})
print(redaction.redact("vault-remembered-7Hq2"), "jsonschema" in sys.modules)
"""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                           cwd=REPO).stdout.split() for _ in range(2)]
    assert runs == [[redaction.MASK, "True"], [redaction.MASK, "False"]]


def properties(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every named property in a schema, with where it stands."""
    found = []
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found += [(f"{path}.{name}", spec) for name, spec in value.items() if isinstance(spec, dict)]
            found += properties(value, f"{path}.{key}" if key != "properties" else path)
    elif isinstance(schema, list):
        for value in schema:
            found += properties(value, path)
    return found


def test_every_built_in_field_named_like_a_secret_is_declared_one() -> None:
    """A guard for connector authors: a field called a secret, token, password or key is
    declared writeOnly, or its value would be printed (names only warn here; the
    declaration is what redacts)."""
    words = ("secret", "token", "password", "api_key", "consumer_key")
    named = [(where, spec) for where, spec in properties(config.full_schema())
             if any(w in where.rsplit(".", 1)[-1].lower() for w in words)]
    assert len(named) >= 9  # WooCommerce 3, Shopify 2, e-conomic 2, Dinero 2, the mail password
    assert [where for where, spec in named if spec.get("writeOnly") is not True] == []


def test_the_secret_paths_of_a_config_follow_its_connectors_schema() -> None:
    tree = {"shop": {"platform": "woocommerce", "url": "https://s.example", "consumer_key": "ck_1234",
                     "consumer_secret": "cs_1234", "webhook_secret": None},
            "accounting": {"system": "economic", "app_secret_token": "a" * 8, "agreement_grant_token": 12345678},
            "notify": {"email": {"to": ["a@example.dk"], "host": "mail", "password": "pw-1234"}},
            "mappings": {"note_token": "not declared"}}
    paths = config.secret_paths(tree, config.full_schema(["woocommerce"], ["economic"]))
    assert sorted(paths) == sorted([
        ("shop", "consumer_key"), ("shop", "consumer_secret"), ("accounting", "app_secret_token"),
        ("accounting", "agreement_grant_token"), ("notify", "email", "password"),
    ])
