"""The `accounting:` section for Dinero: its JSON Schema and the typed settings.

The defaults follow a standard Dinero organisation (its standard chart of accounts: sales
with VAT on 1000, without VAT on 1010), so a config with the organisation id and the three
credentials works. The loader validates against CONFIG_SCHEMA without filling in defaults;
`DineroSettings.from_section` applies them here, from the same schema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from iexsync import exchange

DEFAULT_URL = "https://api.dinero.dk"
DEFAULT_AUTH_URL = "https://authz.dinero.dk/dineroapi/oauth/token"
MATCH_ON = ("email", "vat_number")
ON_MISMATCH = ("draft", "correction_line", "ignore")
CONDITIONS = ("Netto", "NettoCash", "CurrentMonthOut", "Paid")
LANGUAGES = ("da-DK", "en-GB")


def _account(description: str, default: int | None) -> dict[str, Any]:
    kind: Any = ["integer", "null"] if default is None else "integer"
    return {"type": kind, "minimum": 1, "maximum": 99999999, "default": default, "description": description}


def _object(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    default = {key: value["default"] for key, value in properties.items() if "default" in value}
    return {"type": "object", "additionalProperties": False, "description": description, "default": default,
            "properties": properties, **extra}


_PAYMENT = {
    "condition": {"enum": [*CONDITIONS, None], "default": None,
                  "description": "Dinero's payment condition: Netto, NettoCash, CurrentMonthOut or Paid."},
    "days": {"type": ["integer", "null"], "minimum": 0, "maximum": 365, "default": None,
             "description": "Days until the invoice is due (with Netto or CurrentMonthOut)."},
    "deposit_account": _account(
        "Deposit account (bank, payment provider) on which the payment of an order paid this way is "
        "registered when its invoice is booked; null: no payment is registered.", None),
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["organization_id", "client_id", "client_secret", "api_key"],
    "properties": {
        "organization_id": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "default": "",
                            "description": "The Dinero organisation's id (a number), e.g. ${DINERO_ORGANIZATION_ID}."},
        "client_id": {"type": "string", "minLength": 1, "default": "",
                      "description": "The personal integration's client id, e.g. ${DINERO_CLIENT_ID}."},
        "client_secret": {"type": "string", "minLength": 4, "default": "", "writeOnly": True,
                          "description": "The personal integration's client secret, e.g. ${DINERO_CLIENT_SECRET}."},
        "api_key": {"type": "string", "minLength": 4, "default": "", "writeOnly": True,
                    "description": "The organisation's API key (Dinero → Settings → Integrations), e.g. ${DINERO_API_KEY}."},
        "url": {"type": "string", "minLength": 1, "default": DEFAULT_URL,
                "description": "The API's base URL; override for a proxy or a test server."},
        "auth_url": {"type": "string", "minLength": 1, "default": DEFAULT_AUTH_URL,
                     "description": "The token endpoint."},
        "allow_insecure_http": {"type": "boolean", "default": False,
                                "description": "Allow plain http to a host other than this machine (the credentials travel in clear)."},
        "ca_bundle": {"type": ["string", "null"], "default": None,
                      "description": "A PEM file with the CA certificate(s) to trust for `url` and `auth_url` (relative to the "
                                     "config file), for a proxy or test server with a private CA. Empty: the system's trusted CAs."},
        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
                    "description": "Seconds to wait for an answer. A write whose answer did not come is looked up "
                                   "by its Guid on the next run, never sent again blindly."},
        "rate_limit": _object(
            "Dinero allows 100 requests a minute per organisation; iexsync paces itself below it.",
            {
                "requests": {"type": "integer", "minimum": 2, "default": 100, "description": "Requests allowed per window."},
                "per_seconds": {"type": "number", "exclusiveMinimum": 0, "default": 60, "description": "The window, in seconds."},
            },
        ),
        "home_country": {"type": "string", "pattern": "^[A-Z]{2}$", "default": "DK",
                         "description": "The organisation's country (ISO code): decides domestic, EU and export sales."},
        "language": {"enum": list(LANGUAGES), "default": "da-DK", "description": "The documents' language."},
        "contacts": _object(
            "How the buyer becomes a Dinero contact.",
            {
                "create": {"type": "boolean", "default": True, "description": "Create a contact that does not exist; false: it must exist."},
                "match_on": {"enum": list(MATCH_ON), "default": "email",
                             "description": "The field that finds an existing contact: email or vat_number."},
                "collective_contact": {"type": ["string", "null"], "format": "uuid", "default": None,
                                       "description": "A contact's Guid that takes every sale to a consumer (no company, "
                                                      "no VAT number); null: one contact per buyer."},
            },
        ),
        "use_products": {"type": "boolean", "default": False,
                         "description": "Product lines by SKU (products found or created in Dinero); false: free-text lines on accounts."},
        "accounts": _object(
            "Sales accounts. Dinero takes the VAT from each line's account, so each kind of sale needs an "
            "account whose VAT code matches it.",
            {
                "sales": _account("Sales with the home country's VAT (VAT code U25 in Denmark).", 1000),
                "sales_vat_free": _account("Home sales without VAT (VAT-free goods, or no VAT charged).", 1010),
                "sales_eu": _account("Sales to EU businesses with a VAT number, reverse charge (EU sale VAT code); "
                                     "null: such an order is an error.", None),
                "sales_abroad": _account("Sales to buyers outside the EU (export, no VAT); null: such an order is an error.", None),
                "sales_oss": _account("Sales to EU consumers charged their own country's VAT (One-Stop-Shop); "
                                      "null: such an order is an error.", None),
                "shipping": _account("Shipping with VAT; null: the sales account.", None),
                "fees": _account("Fees with VAT; null: the sales account.", None),
                "refunds": _account("Refunded amounts not tied to a returned item; null: the sales account.", None),
                "rounding": _account("Rounding and totals corrections (an account without VAT); null: sales_vat_free.", None),
                "gift_cards": _account("Gift cards sold: the gift card liability (a debt until the card is used), "
                                       "without VAT; null: an order selling one is an error.", None),
            },
        ),
        "oss_accounts": {
            "type": "object", "default": {}, "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 99999999},
            "description": "Per EU country (ISO code): the OSS sales account for consumers charged that country's VAT; "
                           "wins over accounts.sales_oss.",
        },
        "foreign_vat_accounts": {
            "type": "object", "default": {}, "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 99999999},
            "description": "Per non-EU country (ISO code): the account for sales charged that country's VAT "
                           "(e.g. Norway's VOEC); a country not listed makes such an order an error.",
        },
        "header": {"type": "string", "minLength": 1, "default": "Ordre {{ order.number }}",
                   "description": "The document's description (its heading), a template over the order."},
        "payments": _object(
            "Payment condition, and a deposit account to register the payment, by payment method.",
            {
                "default": _object("For methods not listed.", copy.deepcopy(_PAYMENT)),
                "methods": {
                    "type": "object", "default": {},
                    "description": "The shop's payment method id or title → {condition, days, deposit_account}.",
                    "additionalProperties": {"type": "object", "additionalProperties": False,
                                             "properties": copy.deepcopy(_PAYMENT)},
                },
            },
        ),
        "exchange_rates": exchange.SCHEMA,
        "totals": _object(
            "How Dinero's totals are checked against the shop's before booking.",
            {
                "tolerance": {"type": "number", "minimum": 0, "default": 0.10,
                              "description": "Largest difference in gross or VAT accepted between the shop's totals and Dinero's."},
                "on_mismatch": {"enum": list(ON_MISMATCH), "default": "draft",
                                "description": "draft: leave the invoice unbooked and report 'totals differ'; "
                                               "correction_line: add a line for the difference; ignore: book anyway."},
            },
        ),
    },
}


@dataclass(frozen=True)
class PaymentRule:
    condition: str | None = None
    days: int | None = None
    deposit_account: int | None = None


@dataclass(frozen=True)
class DineroSettings:
    organization_id: str
    client_id: str
    client_secret: str
    api_key: str
    url: str = DEFAULT_URL
    auth_url: str = DEFAULT_AUTH_URL
    allow_insecure_http: bool = False
    ca_bundle: str | None = None
    timeout: float = 30
    rate_requests: int = 100
    rate_seconds: float = 60
    home_country: str = "DK"
    language: str = "da-DK"
    create_contacts: bool = True
    match_on: str = "email"
    collective_contact: str | None = None
    use_products: bool = False
    accounts: Mapping[str, int | None] = field(default_factory=lambda: dict(CONFIG_SCHEMA["properties"]["accounts"]["default"]))
    oss_accounts: Mapping[str, int] = field(default_factory=dict)
    foreign_vat_accounts: Mapping[str, int] = field(default_factory=dict)
    header: str = "Ordre {{ order.number }}"
    default_payment: PaymentRule = field(default_factory=PaymentRule)
    method_payments: Mapping[str, PaymentRule] = field(default_factory=dict)
    tolerance: Decimal = Decimal("0.10")
    on_mismatch: str = "draft"
    exchange_rates: exchange.RatePolicy = field(default_factory=exchange.RatePolicy)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], base_dir: Path | None = None) -> "DineroSettings":
        """Typed settings from a validated section, defaults applied from the schema."""
        props = CONFIG_SCHEMA["properties"]

        def get(key: str) -> Any:
            default = props[key]["default"]
            value = section.get(key, default)
            if isinstance(default, dict) and isinstance(value, Mapping):
                return {**default, **value}  # a partial nested object keeps the other defaults
            return value

        contacts, rate, payments, totals = get("contacts"), get("rate_limit"), get("payments"), get("totals")
        return cls(
            organization_id=str(section["organization_id"]),
            client_id=str(section["client_id"]),
            client_secret=str(section["client_secret"]),
            api_key=str(section["api_key"]),
            url=get("url"),
            auth_url=get("auth_url"),
            allow_insecure_http=bool(get("allow_insecure_http")),
            ca_bundle=str((base_dir or Path(".")) / Path(get("ca_bundle")).expanduser()) if get("ca_bundle") else None,
            timeout=float(get("timeout")),
            rate_requests=int(rate["requests"]),
            rate_seconds=float(rate["per_seconds"]),
            home_country=str(get("home_country")).upper(),
            language=get("language"),
            create_contacts=contacts["create"],
            match_on=contacts["match_on"],
            collective_contact=contacts["collective_contact"],
            use_products=bool(get("use_products")),
            accounts=get("accounts"),
            oss_accounts={k.upper(): int(v) for k, v in (get("oss_accounts") or {}).items()},
            foreign_vat_accounts={k.upper(): int(v) for k, v in (get("foreign_vat_accounts") or {}).items()},
            header=get("header"),
            default_payment=_payment(payments.get("default") or {}),
            method_payments={name: _payment(value or {}) for name, value in (payments.get("methods") or {}).items()},
            tolerance=_decimal(totals["tolerance"]),
            on_mismatch=totals["on_mismatch"],
            exchange_rates=exchange.RatePolicy.from_section(section.get("exchange_rates")),
        )

    def payment_for(self, method_id: str, title: str) -> PaymentRule:
        """The payment method's own rule, its gaps filled from the default."""
        own = self.method_payments.get(method_id) or self.method_payments.get(title) or PaymentRule()
        default = self.default_payment
        return PaymentRule(
            condition=own.condition or default.condition or "Netto",
            days=own.days if own.days is not None else default.days if default.days is not None else 8,
            deposit_account=own.deposit_account or default.deposit_account,
        )

    def account(self, role: str) -> int | None:
        return self.accounts.get(role)


def _payment(value: Mapping[str, Any]) -> PaymentRule:
    return PaymentRule(condition=value.get("condition"), days=value.get("days"), deposit_account=value.get("deposit_account"))


def _decimal(value: Any) -> Decimal:
    # YAML gives 0.1 as a float; its shortest repr is what the admin wrote.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
