"""toolkit.settings.with_defaults: a connector's defaults come from its schema alone."""

from __future__ import annotations

import pytest

from iexsync import registry
from iexsync.toolkit.settings import with_defaults

SCHEMA = {
    "type": "object",
    "properties": {
        "url": {"type": "string"},
        "timeout": {"type": "number", "default": 30},
        "accounts": {"type": "object", "default": {"a": "X", "b": "Y"},
                     "properties": {"a": {"type": "string", "default": "X"}, "b": {"type": "string", "default": "Y"}}},
        "methods": {"type": "object", "default": {}, "additionalProperties": {"type": "string"}},
    },
}


@pytest.mark.parametrize("section, expected", [
    ({"url": "u"}, {"url": "u", "timeout": 30, "accounts": {"a": "X", "b": "Y"}, "methods": {}}),
    ({"timeout": 5, "accounts": {"b": "Z"}}, {"timeout": 5, "accounts": {"a": "X", "b": "Z"}, "methods": {}}),
    ({"methods": {"card": "1"}, "extra": 1}, {"methods": {"card": "1"}, "extra": 1, "timeout": 30,
                                               "accounts": {"a": "X", "b": "Y"}}),
    ({"timeout": None}, {"timeout": None, "accounts": {"a": "X", "b": "Y"}, "methods": {}}),  # given is given
])
def test_defaults_fill_in_what_the_section_leaves_out(section, expected) -> None:
    assert with_defaults(SCHEMA, section) == expected


def test_the_defaults_are_copies() -> None:
    first = with_defaults(SCHEMA, {})
    first["accounts"]["a"] = "changed"
    assert with_defaults(SCHEMA, {})["accounts"]["a"] == "X"


def test_a_connector_built_from_a_minimal_section_uses_its_schemas_defaults(tmp_path) -> None:
    """Change a default in the schema and the connector follows: there is no second copy in code."""
    woo = registry.load("shops", "woocommerce")
    props = woo.CONFIG_SCHEMA["properties"]
    shop = woo.from_config({"url": "https://shop.example.com", "consumer_key": "ck_" + "1" * 40,
                            "consumer_secret": "cs_" + "2" * 40}, tmp_path)
    assert (shop.per_page, shop.tax_basis, shop.webhook_secret) == (
        props["per_page"]["default"], props["tax_based_on"]["default"], props["webhook_secret"]["default"])
    assert shop.client.timeout[1] == props["timeout"]["default"]
    shop.close()
    beancount = registry.load("books", "beancount")
    ledger = beancount.from_config({"path": "ledger.beancount"}, tmp_path)
    assert ledger.open_date == beancount.CONFIG_SCHEMA["properties"]["open_date"]["default"]
    assert ledger.accounts == beancount.CONFIG_SCHEMA["properties"]["accounts"]["default"]
