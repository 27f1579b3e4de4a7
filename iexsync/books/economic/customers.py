"""The buyer → an e-conomic customer number: found by the match field, created when missing.

One filtered GET per new buyer, none for a returning one: the number found is remembered
in the log (unless customers.update is on: then the card is read each run to compare).
A remembered number that was deleted in e-conomic is checked again when a draft using it
is rejected. A customer POST whose answer never came is resolved by searching again,
never by posting twice: e-conomic would number a second copy.
"""

from __future__ import annotations

from typing import Any

from iexsync import errors
from iexsync.books.economic.api import EconomicApi, filter_value
from iexsync.toolkit.cache import OnceCache, Remembered
from iexsync.books.economic.config import EconomicSettings
from iexsync.books.economic.vat import country_name, customer_zone
from iexsync.model import Address, Customer

# match_on → (e-conomic's filterable property, how people call it)
MATCH = {
    "email": ("email", "e-mail"),
    "vat_number": ("vatNumber", "VAT number"),
    "phone": ("telephoneAndFaxNumber", "phone number"),
    "customer_number": ("customerNumber", "customer number"),
}
MAX_CUSTOMER_NUMBER = 999999999


class CustomerDirectory:
    def __init__(self, api: EconomicApi, settings: EconomicSettings):
        self.api = api
        self.settings = settings
        self.cache: OnceCache[int] = OnceCache()
        self.memory = Remembered()

    def number_for(self, customer: Customer, currency: str) -> int:
        collective = self.settings.collective_customer
        if collective is not None and not customer.is_business:
            return self.cache.get(("collective", collective), lambda: self._existing(collective))
        match_on, value = self._match_key(customer)
        return self.cache.get((match_on, value), lambda: self._resolve(customer, currency, match_on, value))

    # --- finding ----------------------------------------------------------------------
    def _match_key(self, customer: Customer) -> tuple[str, Any]:
        match_on = self.settings.match_on
        if match_on == "customer_number":
            shop_id = customer.shop_customer_id
            if shop_id.isdigit() and 1 <= int(shop_id) <= MAX_CUSTOMER_NUMBER:
                return match_on, int(shop_id)
            match_on = "email"  # a guest has no customer number: the e-mail is what we have
        # Searched for as stored: e-conomic keeps only so many characters of each (see _card),
        # and a longer value would never be found again, so each order would add a customer.
        value = {
            "email": customer.email.strip().lower()[:255],
            "vat_number": customer.vat_number.strip()[:50],
            "phone": customer.phone.strip()[:255],
        }[match_on]
        if not value:
            raise errors.MappingError(
                f"the order has no {MATCH[match_on][1]} to find the customer {customer.name!r} by "
                f"(accounting.customers.match_on: {self.settings.match_on}); set "
                "accounting.customers.collective_customer for such sales, or match on another field"
            )
        return match_on, value

    def _find(self, match_on: str, value: Any) -> dict[str, Any] | None:
        if match_on == "customer_number":
            return self.api.get(f"customers/{value}", missing_ok=True)
        field = MATCH[match_on][0]
        found = self.api.collection("customers", f"{field}$eq:{filter_value(str(value))}")
        return min(found, key=lambda c: c.get("customerNumber", 0)) if found else None

    def _existing(self, number: int) -> int:
        if self.memory.recall(f"customer-exists:{number}") is not None:
            return number
        if self.api.get(f"customers/{number}", missing_ok=True) is None:
            raise errors.MappingError(
                f"the collective customer {number} does not exist in e-conomic; "
                "check accounting.customers.collective_customer"
            )
        self.memory.remember(f"customer-exists:{number}", "1")
        return number

    def exists(self, number: int) -> bool:
        return self.api.get(f"customers/{number}", missing_ok=True) is not None

    def _resolve(self, customer: Customer, currency: str, match_on: str, value: Any) -> int:
        key = f"customer:{match_on}:{value}"
        if not self.settings.update_customers:
            remembered = self.memory.recall(key)
            if remembered is not None:
                return int(remembered)
        number = self._look_up_or_create(customer, currency, match_on, value)
        self.memory.remember(key, str(number))
        return number

    def _look_up_or_create(self, customer: Customer, currency: str, match_on: str, value: Any) -> int:
        found = self._find(match_on, value)
        if found is not None:
            if self.settings.update_customers:
                self._update(found, customer)
            return int(found["customerNumber"])
        if not self.settings.create_customers:
            raise errors.MappingError(
                f"no e-conomic customer has the {MATCH[match_on][1]} {value!r} and "
                "accounting.customers.create is false; create the customer in e-conomic or allow creation"
            )
        body = {**self._card(customer), **self._new_card_settings(customer, currency)}
        if match_on == "customer_number":
            body["customerNumber"] = value
        try:
            created = self.api.post("customers", body, subject=f"the new customer {customer.name!r}")
        except errors.OutcomeUnknown:
            # The POST may have landed: look before anyone tries again.
            found = self._find(match_on, value)
            if found is None:
                raise
            return int(found["customerNumber"])
        return int(created["customerNumber"])

    # --- writing ----------------------------------------------------------------------
    def _new_card_settings(self, customer: Customer, currency: str) -> dict[str, Any]:
        return {
            "currency": currency,
            "customerGroup": {"customerGroupNumber": self.settings.customer_group},
            "paymentTerms": {"paymentTermsNumber": self.settings.customer_payment_terms},
            "vatZone": {"vatZoneNumber": customer_zone(customer, self.settings)},
        }

    @staticmethod
    def _card(customer: Customer) -> dict[str, Any]:
        """What the order says about the buyer, within e-conomic's field lengths; empty ones left out."""
        address = customer.billing if _has_address(customer.billing) else customer.shipping
        fields = {
            "name": (customer.company or customer.name)[:255],
            "email": customer.email[:255],
            "address": street(address)[:510],
            "zip": address.postcode[:30],
            "city": address.city[:50],
            "country": country_name(address.country)[:50] if address.country else "",
            "telephoneAndFaxNumber": customer.phone[:255],
            "vatNumber": customer.vat_number[:50],
            "ean": customer.ean[:40],
        }
        return {key: value for key, value in fields.items() if value}

    def _update(self, found: dict[str, Any], customer: Customer) -> None:
        wanted = self._card(customer)
        if all(found.get(key) == value for key, value in wanted.items()):
            return
        number = found["customerNumber"]
        body = {key: value for key, value in {**found, **wanted}.items() if value is not None}
        self.api.put(f"customers/{number}", body, subject=f"the update of customer {number}")


def street(address: Address) -> str:
    return "\n".join(part for part in (address.street, address.street2) if part)


def _has_address(address: Address) -> bool:
    return bool(address.street or address.city or address.postcode)
