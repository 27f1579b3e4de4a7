"""The buyer → a Dinero contact Guid: found by e-mail (or VAT number), created when missing.

One filtered list request per new buyer, none for a returning one: the Guid found is
remembered in the log. A contact iexsync creates gets its own Guid, derived from what it was
matched on, so a create whose answer never came cannot make a second copy: the next attempt
finds it (by the filter, or by that Guid) or Dinero refuses the repeat (`guidMustBeUnique`).
"""

from __future__ import annotations

import uuid
from typing import Any

from iexsync import errors
from iexsync.books.dinero.api import DineroApi, Rejected, filterable, quoted
from iexsync.books.dinero.config import DineroSettings
from iexsync.model import Address, Customer
from iexsync.toolkit.cache import OnceCache, Remembered

# match_on → (Dinero's filterable field, how people call it)
MATCH = {"email": ("Email", "e-mail"), "vat_number": ("VatNumber", "VAT number")}
CONTACTS_NAMESPACE = uuid.UUID("5b0c2f0e-4a59-5d7e-9a54-1f0e6d0c7a11")  # [ours] fixed forever


def contact_guid(match_on: str, value: str) -> str:
    return str(uuid.uuid5(CONTACTS_NAMESPACE, f"{match_on}:{value}"))


class ContactDirectory:
    def __init__(self, api: DineroApi, settings: DineroSettings):
        self.api = api
        self.settings = settings
        self.cache: OnceCache[str] = OnceCache()
        self.memory = Remembered()

    def guid_for(self, customer: Customer) -> str:
        collective = self.settings.collective_contact
        if collective and not customer.is_business:
            return self.cache.get(("collective", collective), lambda: self._existing(collective))
        match_on, value = self._match_key(customer)
        return self.cache.get((match_on, value), lambda: self._resolve(customer, match_on, value))

    def exists(self, guid: str) -> bool:
        return self.api.get(f"contacts/{guid}", missing_ok=True) is not None

    def _match_key(self, customer: Customer) -> tuple[str, str]:
        match_on = self.settings.match_on
        value = customer.email.strip().lower() if match_on == "email" else customer.vat_number.strip()
        if not value and match_on == "vat_number" and customer.email.strip():
            match_on, value = "email", customer.email.strip().lower()  # a consumer has no VAT number
        if not value:
            raise errors.MappingError(
                f"the order has no {MATCH[match_on][1]} to find the contact {customer.name!r} by "
                f"(accounting.contacts.match_on: {self.settings.match_on}); set "
                "accounting.contacts.collective_contact for such sales, or match on another field"
            )
        return match_on, value

    def _existing(self, guid: str) -> str:
        if self.memory.recall(f"contact-exists:{guid}") is not None:
            return guid
        if not self.exists(guid):
            raise errors.MappingError(
                f"the collective contact {guid} does not exist in Dinero; check accounting.contacts.collective_contact")
        self.memory.remember(f"contact-exists:{guid}", "1")
        return guid

    def _resolve(self, customer: Customer, match_on: str, value: str) -> str:
        key = f"contact:{match_on}:{value}"
        remembered = self.memory.recall(key)
        if remembered is not None:
            return remembered
        guid = self._look_up_or_create(customer, match_on, value)
        self.memory.remember(key, guid)
        return guid

    def _find(self, match_on: str, value: str) -> str | None:
        field, what = MATCH[match_on]
        own = contact_guid(match_on, value)
        if not filterable(value):  # the filter cannot say it: only a contact iexsync made can be found
            return own if self.exists(own) else None
        found = self.api.list("contacts", query_filter=f"{field} eq {quoted(value, what)}",
                              fields="ContactGuid,Name,Email,VatNumber")
        guids = sorted(str(item["ContactGuid"]) for item in found if item.get("ContactGuid"))
        return own if own in guids else (guids[0] if guids else None)  # ours first: never a second pick

    def _look_up_or_create(self, customer: Customer, match_on: str, value: str) -> str:
        found = self._find(match_on, value)
        if found is not None:
            return found
        if not self.settings.create_contacts:
            raise errors.MappingError(
                f"no Dinero contact has the {MATCH[match_on][1]} {value!r} and accounting.contacts.create is "
                "false; create the contact in Dinero or allow creation")
        guid = contact_guid(match_on, value)
        body = {"ContactGuid": guid, **contact_card(customer, self.settings.home_country)}
        try:
            self.api.post("contacts", body, subject=f"the new contact {customer.name!r}")
        except errors.OutcomeUnknown:
            if not self.exists(guid):  # the POST may have landed: look before anyone tries again
                raise
        except Rejected as exc:
            # Our own Guid refused as taken: an earlier attempt's POST landed after all.
            if "guidMustBeUnique" not in str(exc.body) or not self.exists(guid):
                raise
        return guid


def contact_card(customer: Customer, home_country: str) -> dict[str, Any]:
    """What the order says about the buyer; empty fields left out."""
    address = customer.billing if _has_address(customer.billing) else customer.shipping
    fields: dict[str, Any] = {
        "Name": (customer.company or customer.name or customer.email or "Customer")[:255],
        "Street": street(address),
        "ZipCode": address.postcode,
        "City": address.city,
        "CountryKey": address.country or customer.billing.country or home_country,
        "Phone": customer.phone,
        "Email": customer.email,
        "AttPerson": customer.name if customer.company and customer.name else "",
        "VatNumber": customer.vat_number,
        "EanNumber": customer.ean,
    }
    card = {key: value for key, value in fields.items() if value}
    card.update(IsPerson=not customer.is_business, IsMember=False, UseCvr=False)
    return card


def street(address: Address) -> str:
    return "\n".join(part for part in (address.street, address.street2) if part)


def _has_address(address: Address) -> bool:
    return bool(address.street or address.city or address.postcode)
