"""Decimal money: strict parsing and rounding by the currency's rules. Never float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units that differ from the usual 2 (the currencies shops actually use).
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

# Amounts beyond this are not money a webshop order carries; they are corrupt input.
MAX_AMOUNT = Decimal("1e12")

ZERO = Decimal(0)


class MoneyError(ValueError):
    pass


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round half up to the currency's minor unit, as invoices do."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def parse_decimal(value: object, what: str) -> Decimal:
    """A finite Decimal from a shop's string or integer; floats are read via their repr.

    `what` names the field in the error, so the message says what to fix.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"{what} is {value!r}, expected a number")
    if isinstance(value, float):
        value = repr(value)  # JSON numbers arrive as float: their shortest repr is what was sent
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            raise MoneyError(f"{what} is {value[:40]!r}, expected a number")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"{what} is {value!r}, expected a number") from None
    elif isinstance(value, Decimal):
        result = value
    else:
        raise MoneyError(f"{what} is a {type(value).__name__}, expected a number")
    if not result.is_finite():
        raise MoneyError(f"{what} is {value!r}, expected a finite number")
    if abs(result) >= MAX_AMOUNT:
        raise MoneyError(f"{what} is {value!r}, which is too large to be an amount")
    return result


def parse_money(value: object, what: str, currency: str) -> Decimal:
    return round_money(parse_decimal(value, what), currency)


def format_rate(rate: Decimal) -> str:
    """25.000 -> '25', 7.50 -> '7.5': how a VAT rate is named to people."""
    text = format(rate.normalize(), "f")
    return text
