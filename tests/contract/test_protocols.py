"""Every registered connector (and each memory double) has every member of its protocol,
with the protocol's parameter names: a connector that forgets one fails here, not in a
customer's cron run. Webhooks are optional: a shop that has any of WebhookSource's
members has them all."""

from __future__ import annotations

import inspect
import re

import pytest

from iexsync import registry
from iexsync.books.base import Books
from iexsync.shops.base import Shop, WebhookSource
from tests.contract.memory import MemoryBooks, MemoryShop


def members(protocol: type) -> dict[str, object]:
    """The protocol's own members: methods and annotated attributes."""
    own = {name: value for name, value in vars(protocol).items()
           if not name.startswith("_") and (callable(value) or isinstance(value, classmethod))}
    own.update({name: None for name in getattr(protocol, "__annotations__", {})})
    return own


def missing(cls: type, protocol: type) -> list[str]:
    problems = []
    for name, wanted in members(protocol).items():
        if not hasattr(cls, name):
            problems.append(f"{cls.__name__} has no {name}")
            continue
        if wanted is None:
            continue
        want = inspect.signature(getattr(protocol, name))
        have = inspect.signature(getattr(cls, name))
        if list(want.parameters) != list(have.parameters)[: len(want.parameters)]:
            problems.append(f"{cls.__name__}.{name}{have} is not {name}{want}")
    return problems


CONNECTORS = [("shops", name, Shop) for name in registry.names("shops")] + [
    ("books", name, Books) for name in registry.names("books")]


@pytest.mark.parametrize("kind, name, protocol", CONNECTORS, ids=[f"{k}:{n}" for k, n, _ in CONNECTORS])
def test_every_registered_connector_implements_its_protocol(kind: str, name: str, protocol: type) -> None:
    cls = registry.load(kind, name)
    assert missing(cls, protocol) == []
    assert cls.name == name  # the registry name is the connector's own
    assert cls.CONFIG_SCHEMA["type"] == "object"


@pytest.mark.parametrize("cls, protocol", [(MemoryShop, Shop), (MemoryBooks, Books)])
def test_the_doubles_implement_the_protocols(cls: type, protocol: type) -> None:
    assert missing(cls, protocol) == []


@pytest.mark.parametrize("name", registry.names("shops"))
def test_a_shop_is_a_whole_webhook_source_or_none(name: str) -> None:
    cls = registry.load("shops", name)
    has = [member for member in members(WebhookSource) if hasattr(cls, member)]
    assert has in ([], list(members(WebhookSource)))
    if has:
        assert missing(cls, WebhookSource) == []


def test_a_missing_member_or_a_renamed_parameter_is_caught() -> None:
    class Half:
        name = "half"

        def find(self, ref, kind=None): ...

    problems = missing(Half, Books)
    assert "Half has no create" in problems and any(p.startswith("Half.find(") for p in problems)


@pytest.mark.parametrize("kind, name", [(k, n) for k, n, _ in CONNECTORS], ids=[f"{k}:{n}" for k, n, _ in CONNECTORS])
def test_config_init_offers_every_registered_connector(tmp_path, cli, kind: str, name: str) -> None:
    """Adding a connector is its package, a registry line and its fixture: `config init`
    should offer it without being edited."""
    option = "--shop" if kind == "shops" else "--books"
    result = cli("config", "init", tmp_path / "config.yaml", option, name, "--no-interactive")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "config.yaml").read_text()
    assert f"system: {name}" in text or f"platform: {name}" in text
    (tmp_path / "orders").mkdir()  # the file shop's default folder
    env = {var: "12345678901234567890" for var in re.findall(r"\$\{([A-Z_]+)\}", text)}
    checked = cli("config", "check", "--config", tmp_path / "config.yaml", env=env)
    assert checked.exit_code == 0, checked.output  # the starter is a config `sync` accepts once its secrets are set
