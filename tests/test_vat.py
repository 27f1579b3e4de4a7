"""The VAT treatment follows the country whose VAT was charged (issue 11, case 4).

WooCommerce orders as the shop computes them (tests/woo_orders.py), served by the fake
WooCommerce, synced by the real CLI into the fake e-conomic: the VAT zone on the draft is
the proof. 25 % is Danish, Swedish, Croatian and Norwegian VAT alike, so only the rate
code (`SE-MOMS-1`) can tell them apart.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from iexsync import vat
from iexsync.errors import MappingError
from iexsync.shops.woocommerce.order import parse_order
from tests.conftest import REPO
from tests.fakes.economic import FakeEconomic
from tests.fakes.woocommerce import FakeWooCommerce, WooServer
from tests.test_economic_support import economic_server, fake, section  # noqa: F401
from tests.woo_orders import Item, woo_order

D = Decimal
KEY, SECRET = "ck_" + "5d" * 20, "cs_" + "6e" * 20
OSS_ZONE, NORWAY_ZONE = 5, 6
LAMP = [Item("Lampe Nord", "LAMP-1", 2, D("400.00"))]


@pytest.fixture
def shop(server: WooServer) -> FakeWooCommerce:
    return server.use(FakeWooCommerce(KEY, SECRET))


@pytest.fixture
def books(fake: FakeEconomic) -> FakeEconomic:  # noqa: F811
    # An agreement set up for OSS and Norway's VOEC as well as e-conomic's four standard zones.
    fake.vat_zones[OSS_ZONE] = {"vatZoneNumber": OSS_ZONE, "name": "OSS", "enabledForCustomer": True, "enabledForSupplier": True}
    fake.vat_zones[NORWAY_ZONE] = {"vatZoneNumber": NORWAY_ZONE, "name": "VOEC", "enabledForCustomer": True, "enabledForSupplier": True}
    fake.zone_applies_vat.update({OSS_ZONE: True, NORWAY_ZONE: True})
    return fake


def sync(tmp_path: Path, server: WooServer, economic_server, cli, **accounting) -> tuple[int, str]:  # noqa: F811
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "woocommerce", "url": server.url, "consumer_key": KEY, "consumer_secret": SECRET}
    tree["accounting"] = section(economic_server.url, **accounting)
    tree["transfer"].update(per_state={}, book=False, start_date="2026-01-01")
    tree["log"] = {"path": str(tmp_path / "iexsync.db")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    result = cli("sync", "--config", path, "--verbose")
    return result.exit_code, " ".join(result.output.split())  # the table wraps long messages


def zones(books: FakeEconomic) -> dict[str, int]:  # noqa: F811
    return {d["references"]["other"].split(":")[2]: d["recipient"]["vatZone"]["vatZoneNumber"] for d in books.drafts.values()}


def test_foreign_vat_at_a_danish_rate_is_oss_not_domestic(tmp_path, shop, server, books, economic_server, cli) -> None:
    shop.add_order(woo_order(501, LAMP, rate_code="SE-MOMS-1", billing_country="SE"))  # Swedish consumer, Swedish 25 %
    shop.add_order(woo_order(502, LAMP, rate_code="HR-PDV-1", billing_country="HR"))  # Croatian consumer, Croatian 25 %
    shop.add_order(woo_order(503, LAMP, rate_code="DK-MOMS-1", billing_country="SE"))  # Danish VAT to a Swede: domestic
    shop.add_order(woo_order(504, LAMP, rate_code="MOMS-1", billing_country="SE"))  # a rate for every country: home VAT
    code, output = sync(tmp_path, server, economic_server, cli, oss=OSS_ZONE)
    assert code == 0, output
    assert zones(books) == {"501": OSS_ZONE, "502": OSS_ZONE, "503": 1, "504": 1}


def test_oss_goes_by_the_country_taxed_the_shipping_address_by_default(tmp_path, shop, server, books, economic_server, cli) -> None:
    # Billed in Denmark, shipped to Germany: WooCommerce taxes the German address at 19 %.
    german = [Item("Lampe Nord", "LAMP-1", 1, D("100.00"), rate=D(19))]
    shop.add_order(woo_order(511, german, rate_code="DE-MWST-1", billing_country="DK", shipping_country="DE"))
    code, output = sync(tmp_path, server, economic_server, cli, oss=OSS_ZONE)
    assert code == 0, output
    assert zones(books) == {"511": OSS_ZONE}


def test_oss_without_its_zone_is_an_error_naming_country_rate_and_key(tmp_path, shop, server, books, economic_server, cli) -> None:
    shop.add_order(woo_order(521, LAMP, rate_code="SE-MOMS-1", billing_country="SE"))
    code, output = sync(tmp_path, server, economic_server, cli)
    assert code == 1 and books.drafts == {}
    assert "VAT at 25 % for SE" in output and "One-Stop-Shop" in output and "set accounting.oss" in output


def test_norwegian_voec_vat_is_not_oss(tmp_path, shop, server, books, economic_server, cli) -> None:
    shop.add_order(woo_order(531, LAMP, rate_code="NO-MVA-1", billing_country="NO"))
    code, output = sync(tmp_path, server, economic_server, cli, oss=OSS_ZONE)
    assert code == 1 and books.drafts == {}, output
    assert "VAT at 25 % for NO" in output and "set accounting.foreign_vat_zones.NO" in output

    code, output = sync(tmp_path, server, economic_server, cli, oss=OSS_ZONE, foreign_vat_zones={"NO": NORWAY_ZONE})
    assert code == 0, output
    assert zones(books) == {"531": NORWAY_ZONE}


def test_no_vat_is_reverse_charge_export_or_exempt_by_where_the_buyer_is(tmp_path, shop, server, books, economic_server, cli) -> None:
    untaxed = [Item("Lampe Nord", "LAMP-1", 2, D("400.00"), rate=D(0))]
    shop.add_order(woo_order(541, untaxed, billing_country="DE", vat_number="DE123456788", company="Nordwind GmbH"))
    shop.add_order(woo_order(542, untaxed, billing_country="US"))
    shop.add_order(woo_order(543, untaxed, billing_country="DK"))
    shop.add_order(woo_order(544, untaxed, billing_country="DE", vat_number="DE123456789", company="Typo GmbH"))
    code, output = sync(tmp_path, server, economic_server, cli)
    assert zones(books) == {"541": 2, "542": 3, "543": 4}
    assert code == 1 and "'DE123456789', which is not a valid EU VAT number" in output


# --- the canonical model: each tax line says whose VAT it is --------------------------------

@pytest.mark.parametrize(("code", "country"), [
    ("SE-MOMS-1", "SE"), ("DK-MOMS-1", "DK"), ("US-CA-STATE TAX-1", "US"), ("MOMS-1", ""), ("EU-1", ""), ("TAX", ""),
])
def test_the_reader_takes_the_country_from_the_rate_code(code: str, country: str) -> None:
    order = parse_order(woo_order(1, LAMP, rate_code=code))
    assert [(t.rate_code, t.country, t.rate, t.amount) for t in order.tax_lines] == [(code, country, D(25), D("209.75"))]


def test_the_tax_basis_decides_whose_address_a_countryless_rate_taxes() -> None:
    # A rate for every country at 19 %: not a Danish rate, so it is the taxed address's VAT.
    raw = woo_order(1, [Item("X", "X", 1, D(100), rate=D(19))], rate_code="MWST-1", billing_country="DK", shipping_country="DE")
    assert vat.classify(parse_order(raw), "DK") == vat.VatTreatment(vat.Treatment.OSS, "DE", (D(19),))
    with pytest.raises(MappingError, match=r"VAT at 19 % was charged to a buyer in DK, but that is not a DK VAT rate"):
        vat.classify(parse_order(raw, tax_basis="billing"), "DK")
    assert vat.classify(parse_order(raw, tax_basis="base"), "DK").kind is vat.Treatment.DOMESTIC


def test_rates_and_membership_come_from_the_maintained_data() -> None:
    assert vat.rates_of("DK") == {D(0), D(25)} and D("25.5") in vat.rates_of("FI")
    assert vat.is_eu("HR") and not vat.is_eu("NO") and not vat.is_eu("GB")
    assert vat.valid_vat_number("DE123456788", "DE") and vat.valid_vat_number("123456788", "DE")
    assert not vat.valid_vat_number("DE123456789", "DE")


def test_a_tax_rate_the_amounts_contradict_is_the_orders_error() -> None:
    raw = woo_order(1, LAMP)
    raw["tax_lines"][0]["rate_percent"] = 12  # the line's 25 % says otherwise
    with pytest.raises(Exception, match=r"line_items\[0\]\.total_tax is 200.00 on 800.00, which is not the 12 %"):
        parse_order(raw)


def test_the_published_example_shapes_still_read() -> None:
    raw = json.loads((REPO / "examples" / "orders" / "1001.json").read_text())
    assert [t.country for t in parse_order(raw).tax_lines] == ["DK"]
