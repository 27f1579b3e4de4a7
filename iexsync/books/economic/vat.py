"""Which e-conomic VAT zone a document goes in: the core's VAT treatment (`iexsync.vat`), mapped.

e-conomic computes VAT itself from the recipient's VAT zone and each product's group, so
the zone must reproduce what the shop charged, and the treatment says what that was by the
country whose VAT was charged (never by comparing rates: 25 % is Danish and Swedish VAT):
- home-country VAT → `vat_zones.domestic`, whatever the delivery country;
- another EU country's VAT (an EU consumer under OSS) → `oss`;
- a non-EU country's VAT (Norway's VOEC, the UK) → `foreign_vat_zones.<country>`;
- no VAT, an EU business with a valid VAT number → `vat_zones.eu` (reverse charge);
- no VAT, a buyer outside the EU → `vat_zones.abroad`;
- no VAT on a home sale → `vat_zones.exempt` (a zero total → domestic: nothing to tax).
A treatment the config has no zone for is a MappingError naming country, rate and key.
"""

from __future__ import annotations

from dataclasses import dataclass

from iexsync import vat
from iexsync.books.economic.config import EconomicSettings
from iexsync.document import Document
from iexsync.model import Customer

# The treatment → the config key that sets its zone (named in errors).
ZONE_KEYS = {
    vat.Treatment.DOMESTIC.value: "accounting.vat_zones.domestic",
    vat.Treatment.REVERSE_CHARGE.value: "accounting.vat_zones.eu",
    vat.Treatment.EXPORT.value: "accounting.vat_zones.abroad",
    vat.Treatment.EXEMPT.value: "accounting.vat_zones.exempt",
    vat.Treatment.OSS.value: "accounting.oss to the VAT zone for One-Stop-Shop sales",
    vat.Treatment.FOREIGN.value: "accounting.foreign_vat_zones.<country> (e.g. NO: 5)",
}


@dataclass(frozen=True)
class ZoneChoice:
    kind: str  # a vat.Treatment value (domestic | oss | foreign | reverse_charge | export | exempt) or "as invoiced"
    number: int

    @property
    def applies_home_vat(self) -> bool:
        """In the domestic zone the product group decides the VAT: VAT-free lines need VAT-free products."""
        return self.kind == vat.Treatment.DOMESTIC.value


def zone_choices(settings: EconomicSettings) -> dict[str, int | None]:
    zones = settings.vat_zones
    choices: dict[str, int | None] = {
        vat.Treatment.DOMESTIC.value: zones["domestic"],
        vat.Treatment.REVERSE_CHARGE.value: zones["eu"],
        vat.Treatment.EXPORT.value: zones["abroad"],
        vat.Treatment.EXEMPT.value: zones["exempt"],
        vat.Treatment.OSS.value: settings.oss_zone,
    }
    choices.update({f"foreign:{country}": zone for country, zone in settings.foreign_vat_zones.items()})
    return choices


def choose_zone(document: Document, settings: EconomicSettings) -> ZoneChoice:
    treatment = vat.classify(document, settings.home_country)
    keys = {**ZONE_KEYS, "foreign": ZONE_KEYS["foreign"].replace("<country>", treatment.country)}
    return ZoneChoice(treatment.kind.value, vat.pick(treatment, zone_choices(settings), keys))


def buyer_country(customer: Customer, home: str) -> str:
    return customer.billing.country or customer.shipping.country or home


def customer_zone(customer: Customer, settings: EconomicSettings) -> int:
    """The zone a new customer card gets, by where the buyer is (documents carry their own)."""
    home = settings.home_country
    country = buyer_country(customer, home)
    if country == home:
        return settings.vat_zones["domestic"]
    if vat.is_eu(home) and vat.is_eu(country):
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
