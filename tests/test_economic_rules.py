"""The e-conomic connector's pure rules: VAT zone choice, cent-exact lines, error reading, config.

No server here: these are functions of their inputs, tested on the cases a bookkeeper
would name (a Swedish consumer, a German business, a US buyer, a free sample).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from iexsync.books.economic.api import dumps, filter_value, resource_id
from iexsync.books.economic.body import BodyLine, exact_lines, line_net
from iexsync.books.economic.config import CONFIG_SCHEMA, EconomicSettings
from iexsync.books.economic.errors import describe_rejection
from iexsync.books.economic.vat import choose_zone
from iexsync.document import Document, DocumentKind, DocumentLine
from iexsync.errors import MappingError
from iexsync.model import Address, Customer, LineKind, Totals
from tests.fakes.economic import SCHEMA_DIR, decode_resource_id
from tests.vendor import needs_vendor

D = Decimal
SETTINGS = EconomicSettings.from_section({"app_secret_token": "aaaa", "agreement_grant_token": "bbbb"})


def document(country: str, *rates: str, vat_number: str = "", net: str = "100.00") -> Document:
    lines = tuple(
        DocumentLine(LineKind.PRODUCT, "Item", D(1), D(net), D(net), (D(net) * D(rate) / 100).quantize(D("0.01")), D(rate), "SKU")
        for rate in rates
    )
    customer = Customer(name="Buyer", vat_number=vat_number, billing=Address(country=country))
    vat = sum((line.vat for line in lines), D(0))
    gross = sum((line.net for line in lines), D(0)) + vat
    return Document("ref", DocumentKind.INVOICE, "1", "1", date(2026, 2, 1), "DKK", customer, lines, Totals(gross - vat, vat, gross))


@pytest.mark.parametrize(
    ("country", "rates", "vat_number", "kind"),
    [
        ("DK", ["25"], "", "domestic"),
        ("DK", ["25", "0"], "", "domestic"),  # a 0 % book beside a 25 % plaid
        ("DE", ["25"], "DE123456788", "domestic"),  # charged Danish VAT: domestic, wherever it goes
        ("US", ["25"], "", "domestic"),
        ("SE", ["25"], "", "domestic"),  # no tax line names a country: a DK rate is taken as DK VAT
        ("DE", ["0"], "DE123456788", "reverse_charge"),
        ("US", ["0"], "", "export"),
        ("NO", ["0"], "NO123", "export"),
        ("DK", ["0"], "", "exempt"),
    ],
)
def test_the_vat_zone_follows_the_vat_charged(country: str, rates: list[str], vat_number: str, kind: str) -> None:
    assert choose_zone(document(country, *rates, vat_number=vat_number), SETTINGS).kind == kind


def test_a_zero_total_goes_by_where_the_buyer_is() -> None:
    assert choose_zone(document("DK", "0", net="0.00"), SETTINGS).kind == "domestic"
    assert choose_zone(document("FR", "0", net="0.00"), SETTINGS).kind == "reverse_charge"


def test_an_eu_consumer_charged_their_own_vat_needs_the_oss_zone() -> None:
    with pytest.raises(MappingError, match=r"VAT at 19 % for DE: an EU consumer.*set accounting.oss"):
        choose_zone(document("DE", "19"), SETTINGS)
    with_oss = EconomicSettings.from_section({"app_secret_token": "aaaa", "agreement_grant_token": "bbbb", "oss": 7})
    assert (choose_zone(document("DE", "19"), with_oss).kind, choose_zone(document("DE", "19"), with_oss).number) == ("oss", 7)


def test_vat_that_is_no_home_rate_for_a_home_buyer_is_an_error() -> None:
    with pytest.raises(MappingError, match=r"VAT at 19 % .* not a DK VAT rate \(25 %\)"):
        choose_zone(document("DK", "19"), SETTINGS)


def test_an_eu_consumer_charged_no_vat_is_an_error_naming_the_fix() -> None:
    with pytest.raises(MappingError, match="no VAT number: an EU consumer pays VAT"):
        choose_zone(document("SE", "0"), SETTINGS)


def test_another_home_country_has_its_own_rates() -> None:
    swedish = EconomicSettings.from_section({"app_secret_token": "aaaa", "agreement_grant_token": "bbbb", "home_country": "SE"})
    assert choose_zone(document("SE", "12", "6"), swedish).kind == "domestic"
    assert choose_zone(document("DK", "0", vat_number="DK12345674"), swedish).kind == "reverse_charge"


@pytest.mark.parametrize(
    ("quantity", "net"),
    [("3", "100.00"), ("7", "10.00"), ("3", "-100.00"), ("1", "49.99"), ("2", "0.01"), ("12", "1000.01"), ("2.5", "10.00"), ("0.333", "1.00")],
)
def test_lines_total_exactly_with_two_decimal_prices(quantity: str, net: str) -> None:
    line = DocumentLine(LineKind.PRODUCT, "X", D(quantity), D(net) / D(quantity), D(net), D(0), D(0), "X")
    parts: list[BodyLine] = exact_lines(line, "X", "line 1")
    assert sum((line_net(p.quantity, p.unit_net_price) for p in parts), D(0)) == D(net)
    assert all(p.unit_net_price == p.unit_net_price.quantize(D("0.01")) for p in parts)
    assert len(parts) <= 2


def test_json_numbers_are_exact_and_nulls_refused() -> None:
    assert dumps({"a": D("0.10"), "b": [1, True, "ø"]}) == '{"a":0.10,"b":[1,true,"ø"]}'
    with pytest.raises(ValueError, match="null"):
        dumps({"a": None})
    with pytest.raises(TypeError):
        dumps({"a": 0.1})


def test_filter_values_and_resource_ids_are_escaped_as_documented() -> None:
    assert filter_value("a$b(c)*d,e[f]") == "a$$b$(c$)$*d$,e$[f$]"
    assert resource_id("My Product_5%") == "My_9_Product_8_5_3_"
    for text in ("My Product_5%", "a/b:c.d#e+f?g<h>i&j\\k*", "Bjørn-1"):
        assert decode_resource_id(resource_id(text)) == text


@needs_vendor("economic", "examples", "error.validation.400.invoices.drafts.post.json")
def test_the_vendors_validation_example_reads_as_one_message() -> None:
    body = json.loads((SCHEMA_DIR / "examples" / "error.validation.400.invoices.drafts.post.json").read_text())
    message = describe_rejection(body, "the invoice draft for order 1001", 400, ["line 1 (50)", "line 2 (51)"])
    assert message.startswith("e-conomic refused the invoice draft for order 1001: currency: currency does not exist. (value 'ZUL')")
    assert "line 1 (50) unit: unit does not exist. (value 10)" in message
    assert "line 1 (50) unitNetPrice: unitNetPrice scale cannot be greater then two decimal places. (value 10.12345)" in message
    assert "line 2 (51) product: No identifiers present on product" in message
    assert "customer: customer does not exist. (value '987987987'); check accounting.customers" in message


def test_an_error_body_without_details_still_says_something() -> None:
    assert describe_rejection({"message": "Oops."}, "X", 405) == "e-conomic refused X (405): Oops."
    assert describe_rejection(None, "X", 404) == "e-conomic refused X (404): no reason given"


def test_the_config_schema_documents_and_defaults_every_key() -> None:
    jsonschema.Draft202012Validator.check_schema(CONFIG_SCHEMA)

    def walk(node: dict, path: str) -> None:
        for key, value in node.get("properties", {}).items():
            assert "description" in value and "default" in value, path + key
            if "properties" in value:
                assert value.get("additionalProperties") is False, path + key
                walk(value, f"{path}{key}.")

    walk(CONFIG_SCHEMA, "")
    example = {"app_secret_token": "${ECONOMIC_APP_SECRET_TOKEN}", "agreement_grant_token": "x" * 8, "layout": 19,
               "customers": {"match_on": "phone"}, "totals": {"tolerance": 0.1, "on_mismatch": "ignore"}}
    jsonschema.Draft202012Validator(CONFIG_SCHEMA).validate(example)


def test_a_partial_section_keeps_the_other_defaults() -> None:
    settings = EconomicSettings.from_section(
        {"app_secret_token": "aaaa", "agreement_grant_token": "bbbb", "vat_zones": {"eu": 5},
         "products": {"skus": {"fee": "FEE"}}, "totals": {"tolerance": 0.05}}
    )
    assert dict(settings.vat_zones) == {"domestic": 1, "eu": 5, "abroad": 3, "exempt": 4}
    assert settings.skus["fee"] == "FEE" and settings.skus["shipping"] == "fragtmm"
    assert settings.tolerance == D("0.05") and settings.on_mismatch == "draft"
    assert (settings.url, settings.home_country, settings.match_on, settings.create_customers) == (
        "https://restapi.e-conomic.com", "DK", "email", True)


@needs_vendor("economic", "invoices.drafts.post.schema.json")
def test_the_schema_files_are_where_the_fake_reads_them() -> None:
    assert Path(SCHEMA_DIR, "invoices.drafts.post.schema.json").is_file()
