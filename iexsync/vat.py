"""An order's VAT treatment, decided by the country whose VAT was charged — for every books connector.

A books connector asks `classify(document_or_order, home)` and books what it answers:

| Treatment | When | What the books must show |
| --- | --- | --- |
| `domestic` | the home country's VAT was charged (wherever the goods went) | home output VAT |
| `oss` | another EU country's VAT was charged (an EU consumer, taxed at their own rate) | that country's VAT, reported through the One-Stop-Shop |
| `foreign` | a non-EU country's VAT was charged (Norway's VOEC, the UK, Switzerland) | a foreign VAT liability, neither home VAT nor OSS |
| `reverse_charge` | no VAT, a buyer in another EU country with a valid VAT number | an EU B2B sale, VAT 0, reported as such |
| `export` | no VAT, a buyer outside the EU | an export, VAT 0 |
| `exempt` | no VAT on a home sale | a VAT-exempt home sale |

The country taxed comes from the order's tax lines (WooCommerce names it in `rate_code`:
`SE-MOMS-1` is Swedish VAT), never from comparing rates: 25 % is Danish, Swedish, Croatian
and Norwegian VAT alike. Only a tax line that names no country (a shop rate for "every
country") is placed by its rate: home VAT if it is a home rate, else the VAT of the country
the shop taxes by (its tax basis: the shipping address by default, as WooCommerce does).

Rates and EU membership come from `eu-vat-rates-data` (the European Commission's TEDB,
checked daily, released when a rate changes); VAT numbers are checked with python-stdnum.
`pick` turns a treatment into a connector's own setting (a VAT zone, an account) and says
which config key to set when there is none.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from iexsync.errors import MappingError
from iexsync.model import LineKind
from iexsync.money import ZERO, format_rate

T = TypeVar("T")


class Treatment(str, enum.Enum):
    DOMESTIC = "domestic"
    OSS = "oss"
    FOREIGN = "foreign"
    REVERSE_CHARGE = "reverse_charge"
    EXPORT = "export"
    EXEMPT = "exempt"


@dataclass(frozen=True)
class VatTreatment:
    kind: Treatment
    country: str  # whose VAT was charged; with no VAT, where the buyer (the goods) is
    rates: tuple[Decimal, ...] = ()  # the rates charged, highest first; () when no VAT was charged

    @property
    def charged(self) -> bool:
        return bool(self.rates)

    def describe(self) -> str:
        """For messages: 'VAT at 25 % for SE'."""
        if not self.rates:
            return f"no VAT, buyer in {self.country}"
        return f"VAT at {_rates_text(self.rates)} for {self.country}"


class _Party(Protocol):  # what classify reads; Order and Document both have it
    customer: Any
    lines: Any
    tax_lines: Any
    tax_basis: str


# --- the maintained data --------------------------------------------------------------------

@functools.cache
def _rates_data() -> Mapping[str, Any]:
    import eu_vat_rates_data  # loaded on first use: an idle run needs none of it

    return eu_vat_rates_data.get_all_rates()


def is_eu(country: str) -> bool:
    """EU-27 membership, from the rates data."""
    entry = _rates_data().get(country.upper())
    return bool(entry and entry["eu_member"])


@functools.cache
def rates_of(country: str) -> frozenset[Decimal]:
    """The country's VAT rates in force (standard, reduced, super-reduced, parking) and 0;
    empty for a country the data does not cover (outside Europe)."""
    entry = _rates_data().get(country.upper())
    if not entry:
        return frozenset()
    values = [entry["standard"], *(entry.get("reduced") or []), entry.get("super_reduced"), entry.get("parking")]
    return frozenset({_rate(v) for v in values if v is not None} | {ZERO})


def _rate(value: float) -> Decimal:
    """The data's 25.0 as Decimal 25, its 25.5 as 25.5 (read via repr: never float arithmetic)."""
    rate = Decimal(repr(value))
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


@functools.cache
def rates_in_use() -> tuple[Decimal, ...]:
    """Every rate in force in the 45 European jurisdictions the data covers, highest first."""
    return tuple(sorted({rate for country in _rates_data() for rate in rates_of(country)}, reverse=True))


@functools.cache
def is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code: the rates data's 45 first, pycountry for the rest of the world."""
    code = code.upper()
    if len(code) != 2 or not code.isalpha():
        return False
    if code in _rates_data():
        return True
    import pycountry  # only for a code outside Europe

    return pycountry.countries.get(alpha_2=code) is not None


def valid_vat_number(number: str, country: str) -> bool:
    """An EU VAT number's syntax and check digits (python-stdnum); a number without its
    country prefix is read as the buyer's country's (Greece's prefix is EL)."""
    from stdnum.eu import vat as eu_vat
    from stdnum.util import clean

    compact = clean(number, " -./,").upper().strip()
    if compact and not compact[:2].isalpha():
        compact = ("EL" if country == "GR" else country) + compact
    return bool(compact) and eu_vat.is_valid(compact)


# --- the decision ------------------------------------------------------------------------

def classify(party: _Party, home: str) -> VatTreatment:
    """The VAT treatment of an order or document (both carry customer, lines, tax_lines and
    tax_basis) for a business in `home`. Raises MappingError when it cannot be told or booked
    truthfully, saying what to fix."""
    home = home.upper()
    destination = taxed_address_country(party, home)
    charged = [line for line in party.lines if line.vat != ZERO]
    if charged:
        rates = tuple(sorted({line.vat_rate for line in charged}, reverse=True))
        countries = _countries_taxed(party, rates, home, destination)
        if len(countries) > 1:
            raise MappingError(
                f"the order charges VAT of more than one country ({', '.join(sorted(countries))}); "
                "one document cannot carry two countries' VAT: check the shop's tax settings")
        country = countries.pop()
        if country == home:
            return VatTreatment(Treatment.DOMESTIC, country, rates)
        if is_eu(home) and is_eu(country):
            return VatTreatment(Treatment.OSS, country, rates)
        return VatTreatment(Treatment.FOREIGN, country, rates)
    # A gift card sold is no supply yet (its VAT is due when it is used): it decides nothing.
    net = sum((line.net for line in party.lines if line.kind is not LineKind.GIFT_CARD), ZERO)
    if destination == home:
        return VatTreatment(Treatment.DOMESTIC if net == ZERO else Treatment.EXEMPT, home)
    if not (is_eu(home) and is_eu(destination)):
        return VatTreatment(Treatment.EXPORT, destination)
    number = party.customer.vat_number
    if net == ZERO:
        return VatTreatment(Treatment.REVERSE_CHARGE, destination)  # nothing to tax
    if not number:
        raise MappingError(
            f"no VAT was charged to {party.customer.name} in {destination}, who has no VAT number: "
            "an EU consumer pays VAT. If the buyer is a business, put its VAT number on the order; "
            "otherwise check the shop's tax settings")
    if not valid_vat_number(number, destination):
        raise MappingError(
            f"no VAT was charged to {party.customer.name} in {destination} for the VAT number {number!r}, "
            "which is not a valid EU VAT number (its format or check digits are wrong): a sale without VAT "
            "to an EU business needs its valid number; correct it on the order")
    return VatTreatment(Treatment.REVERSE_CHARGE, destination)


def taxed_address_country(party: _Party, home: str) -> str:
    """The country of the address the shop taxes by (its tax basis), the other address
    where that one is empty; the home country for a shop that taxes by its own address."""
    customer = party.customer
    if party.tax_basis == "base":
        return home
    first, second = (customer.billing, customer.shipping) if party.tax_basis == "billing" else (
        customer.shipping, customer.billing)
    return (first.country or second.country or home).upper()


def _countries_taxed(party: _Party, rates: tuple[Decimal, ...], home: str, destination: str) -> set[str]:
    """The countries whose VAT the order's tax lines charged; a line naming none is placed by its rate."""
    countries = set()
    unplaced = False
    for tax in party.tax_lines:
        if tax.amount == ZERO:
            continue
        if tax.country:
            countries.add(tax.country)
        else:
            unplaced = True
    if unplaced or not countries:
        countries.add(_placed_by_rate(rates, home, destination, party.tax_basis))
    return countries


def _placed_by_rate(rates: tuple[Decimal, ...], home: str, destination: str, basis: str) -> str:
    """Whose VAT a tax naming no country is: the shop's own (home) rates first, since a rate for
    every country is how a shop charges home VAT to all; else the taxed address's country's."""
    charged = set(rates)
    if basis == "base" or charged <= rates_of(home):
        return home
    if charged <= rates_of(destination):
        return destination
    known = ", ".join(f"{format_rate(r)} %" for r in sorted(rates_of(home) - {ZERO}, reverse=True)) or "none known"
    raise MappingError(
        f"VAT at {_rates_text(rates)} was charged to a buyer in {destination}, but that is not a {home} VAT rate "
        f"({known}) nor one of {destination}'s, and the shop's tax rate names no country; give the rate its country "
        "in the shop's tax settings (WooCommerce → Settings → Tax), or check accounting.home_country")


def pick(treatment: VatTreatment, choices: Mapping[str, T | None], keys: Mapping[str, str]) -> T:
    """A connector's own setting for `treatment`: `choices` maps a treatment's value (or
    "value:COUNTRY", which wins) to the setting, `keys` a treatment's value to the config key
    that sets it. None or missing is an error naming the country, the rate and that key."""
    kind = treatment.kind.value
    for key in (f"{kind}:{treatment.country}", kind):
        chosen = choices.get(key)
        if chosen is not None:
            return chosen
    key = keys.get(kind, kind)
    what = {
        Treatment.OSS: f"{treatment.describe()}: an EU consumer taxed at their own country's rate (One-Stop-Shop)",
        Treatment.FOREIGN: f"{treatment.describe()}: VAT of a country outside the EU (e.g. Norway's VOEC), "
                           "neither home VAT nor the EU One-Stop-Shop",
    }.get(treatment.kind, treatment.describe())
    raise MappingError(f"{what}; the config has nothing for it: set {key}")


def _rates_text(rates: Iterable[Decimal]) -> str:
    return ", ".join(f"{format_rate(rate)} %" for rate in rates)
