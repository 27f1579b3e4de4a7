"""Which e-conomic VAT zone a document goes in: decided by the VAT the shop actually charged.

e-conomic computes VAT itself from the recipient's VAT zone and each product's group, so
the zone must reproduce what the shop charged:
- VAT charged at the home country's rates → domestic, whatever the delivery country;
- VAT charged at other rates to a consumer in another EU country → the OSS zone;
- no VAT, an EU business with a VAT number → eu (reverse charge);
- no VAT, a buyer outside the EU → abroad;
- no VAT, a buyer at home → exempt (a zero total → domestic: there is nothing to tax).
Anything else cannot be booked truthfully and is a MappingError saying why.

A known limit: when an EU consumer's own rate equals a home rate (25 % in SE and DK),
the amounts cannot tell OSS from domestic VAT; such an order is treated as domestic.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from iexsync.books.economic.config import EconomicSettings
from iexsync.document import Document
from iexsync.errors import MappingError
from iexsync.model import Customer
from iexsync.money import ZERO, format_rate

EU = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)

# Standard and reduced VAT rates of EU member states, including rates that changed in
# 2024-2025 (FI 24→25.5, EE 22→24, SK 20→23, RO 19→21): an order may predate the change.
# [K] background knowledge, see the report; only the home country's row is ever used.
HOME_RATES: dict[str, frozenset[Decimal]] = {
    country: frozenset(Decimal(r) for r in rates.split())
    for country, rates in {
        "AT": "20 13 10", "BE": "21 12 6", "BG": "20 9", "CY": "19 9 5 3", "CZ": "21 12 15 10",
        "DE": "19 7", "DK": "25", "EE": "24 22 20 13 9 5", "ES": "21 10 5 4", "FI": "25.5 24 14 13.5 10",
        "FR": "20 10 5.5 2.1", "GR": "24 13 6", "HR": "25 13 5", "HU": "27 18 5", "IE": "23 13.5 9 4.8",
        "IT": "22 10 5 4", "LT": "21 9 5", "LU": "17 16 14 13 8 7 3", "LV": "21 12 5", "MT": "18 7 5",
        "NL": "21 9", "PL": "23 8 5", "PT": "23 13 6", "RO": "21 19 11 9 5", "SE": "25 12 6",
        "SI": "22 9.5 5", "SK": "23 20 19 10 5",
    }.items()
}


@dataclass(frozen=True)
class ZoneChoice:
    kind: str  # domestic | eu | abroad | exempt | oss
    number: int

    @property
    def applies_home_vat(self) -> bool:
        """In the domestic zone the product group decides the VAT: VAT-free lines need VAT-free products."""
        return self.kind == "domestic"


def buyer_country(customer: Customer, home: str) -> str:
    return customer.billing.country or customer.shipping.country or home


def choose_zone(document: Document, settings: EconomicSettings) -> ZoneChoice:
    home = settings.home_country
    zones = settings.vat_zones
    country = buyer_country(document.customer, home)
    charged = {line.vat_rate for line in document.lines if line.vat != ZERO}
    home_in_eu = home in EU
    foreign_eu = home_in_eu and country in EU and country != home

    if charged:
        home_rates = HOME_RATES.get(home)
        if home_rates is None or charged <= home_rates:
            return ZoneChoice("domestic", zones["domestic"])
        rates = ", ".join(f"{format_rate(r)} %" for r in sorted(charged - home_rates, reverse=True))
        if foreign_eu:
            if settings.oss_zone is not None:
                return ZoneChoice("oss", settings.oss_zone)
            raise MappingError(
                f"VAT at {rates} was charged to a buyer in {country}, the EU One-Stop-Shop case; "
                "set accounting.oss to the e-conomic VAT zone for OSS sales"
            )
        raise MappingError(
            f"VAT at {rates} was charged to a buyer in {country}, but that is not a {home} VAT rate "
            f"({', '.join(format_rate(r) + ' %' for r in sorted(home_rates, reverse=True))}); "
            "check the shop's tax settings or accounting.home_country"
        )

    net = sum((line.net for line in document.lines), ZERO)
    if country == home:
        return ZoneChoice("domestic" if net == ZERO else "exempt", zones["domestic" if net == ZERO else "exempt"])
    if foreign_eu:
        if document.customer.vat_number or net == ZERO:
            return ZoneChoice("eu", zones["eu"])
        raise MappingError(
            f"no VAT was charged to {document.customer.name} in {country}, who has no VAT number: "
            "an EU consumer pays VAT. If the buyer is a business, put its VAT number on the order; "
            "otherwise check the shop's tax settings"
        )
    return ZoneChoice("abroad", zones["abroad"])


def customer_zone(customer: Customer, settings: EconomicSettings) -> int:
    """The zone a new customer card gets, by where the buyer is (documents carry their own)."""
    home = settings.home_country
    country = buyer_country(customer, home)
    if country == home:
        return settings.vat_zones["domestic"]
    if home in EU and country in EU:
        return settings.vat_zones["eu"] if customer.vat_number else settings.vat_zones["domestic"]
    return settings.vat_zones["abroad"]


# English country names as e-conomic prints them (its country fields are free text).
COUNTRY_NAMES = {
    "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BG": "Bulgaria", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CN": "China", "CY": "Cyprus", "CZ": "Czech Republic", "DE": "Germany",
    "DK": "Denmark", "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FO": "Faroe Islands",
    "FR": "France", "GB": "United Kingdom", "GL": "Greenland", "GR": "Greece", "HR": "Croatia",
    "HU": "Hungary", "IE": "Ireland", "IS": "Iceland", "IT": "Italy", "JP": "Japan", "LI": "Liechtenstein",
    "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "NL": "Netherlands",
    "NO": "Norway", "NZ": "New Zealand", "PL": "Poland", "PT": "Portugal", "RO": "Romania",
    "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia", "TR": "Turkey", "UA": "Ukraine",
    "US": "United States", "ZA": "South Africa",
}


def country_name(code: str) -> str:
    return COUNTRY_NAMES.get(code.upper(), code.upper())
