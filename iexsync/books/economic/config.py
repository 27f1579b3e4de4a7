"""The `accounting:` section for e-conomic: its JSON Schema and the typed settings.

The defaults follow e-conomic's standard agreement setup (layout, payment terms 1,
customer group 1, VAT zones 1-4, product groups 1 and 2), so a config with only the
two tokens works. The loader validates against CONFIG_SCHEMA without filling in
defaults; `EconomicSettings.from_section` applies them here, from the same schema.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from iexsync import exchange
from iexsync.toolkit.settings import with_defaults

DEFAULT_URL = "https://restapi.e-conomic.com"

MATCH_FIELDS = ("email", "vat_number", "phone", "customer_number")
ON_MISMATCH = ("draft", "correction_line", "ignore")

# Special products: the role a line plays → the product number it is booked on.
# The *_vat_free twins are used for 0 % lines in the domestic VAT zone, where the
# product group decides the VAT (a product in the 25 % group would add VAT the shop
# never charged).
DEFAULT_SKUS = {
    "shipping": "fragtmm",
    "shipping_vat_free": "fragtum",
    "fee": "Gebyr",
    "fee_vat_free": "Gebyrum",
    "discount": "Rabat",
    "discount_vat_free": "Rabatum",
    "rounding": "diff",
    "refund": "retur",
    "refund_vat_free": "returum",
    "gift_card": "gavekort",
}

_SKU_TEXT = {
    "shipping": "the product for shipping with VAT",
    "shipping_vat_free": "the product for shipping without VAT",
    "fee": "the product for fees with VAT",
    "fee_vat_free": "the product for fees without VAT",
    "discount": "the product for discounts with VAT",
    "discount_vat_free": "the product for discounts without VAT",
    "rounding": "the product for rounding and totals corrections (created VAT-free)",
    "refund": "the product for amount-only refunds with VAT",
    "refund_vat_free": "the product for amount-only refunds without VAT",
    "gift_card": "the product for gift cards sold, in a product group whose account is the gift card liability "
                 "(no VAT); made in product_groups.gift_cards when that is set, otherwise it must exist",
}


def _int(description: str, default: int | None, nullable: bool = False) -> dict[str, Any]:
    kind: Any = ["integer", "null"] if nullable else "integer"
    return {"type": kind, "minimum": 1, "maximum": 999999999, "default": default, "description": description}


def _object(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    default = {key: value["default"] for key, value in properties.items() if "default" in value}
    return {
        "type": "object",
        "additionalProperties": False,
        "description": description,
        "default": default,
        "properties": properties,
        **extra,
    }


_TERMS_AND_LAYOUT = {
    "payment_terms": _int("Payment terms number for documents paid this way.", None, nullable=True),
    "layout": _int("Layout number for documents paid this way.", None, nullable=True),
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["app_secret_token", "agreement_grant_token"],
    "properties": {
        "url": {
            "type": "string", "minLength": 1, "default": DEFAULT_URL,
            "description": "The REST API's base URL; override for a proxy or a test server.",
        },
        "app_secret_token": {
            "type": "string", "minLength": 4, "default": "", "writeOnly": True,
            "description": "The app's secret token (X-AppSecretToken), e.g. ${ECONOMIC_APP_SECRET_TOKEN}.",
        },
        "agreement_grant_token": {
            "type": "string", "minLength": 4, "default": "", "writeOnly": True,
            "description": "The agreement's grant token for the app (X-AgreementGrantToken), e.g. ${ECONOMIC_AGREEMENT_GRANT_TOKEN}.",
        },
        "layout": _int("Layout number for documents; null: the agreement's first layout.", None, nullable=True),
        "home_country": {
            "type": "string", "pattern": "^[A-Z]{2}$", "default": "DK",
            "description": "The agreement's country (ISO code): decides domestic, EU and abroad VAT zones.",
        },
        "allow_insecure_http": {
            "type": "boolean", "default": False,
            "description": "Allow a plain http URL to a host other than this machine (the tokens travel in clear).",
        },
        "rate_limit": {
            "type": ["number", "null"], "exclusiveMinimum": 0, "default": None,
            "description": "Most requests per second to send; null: no client-side limit (429s are still honoured).",
        },
        "ca_bundle": {
            "type": ["string", "null"], "default": None,
            "description": "A PEM file with the CA certificate(s) to trust for `url` (relative to the config file), "
                           "for a proxy or test server with a private CA. Empty: the system's trusted CAs.",
        },
        "timeout": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
            "description": "Seconds to wait for an answer. A read is then retried; a write whose answer did not "
                           "come in time is looked up by its reference on the next run, never sent again blindly.",
        },
        "exchange_rates": exchange.SCHEMA,
        "customers": _object(
            "How the buyer becomes an e-conomic customer.",
            {
                "create": {"type": "boolean", "default": True, "description": "Create a customer that does not exist; false: it must exist."},
                "update": {"type": "boolean", "default": False, "description": "Update a found customer's name, address, e-mail and phone from the order."},
                "match_on": {
                    "enum": list(MATCH_FIELDS), "default": "email",
                    "description": "The field that finds an existing customer: email, vat_number, phone or customer_number (the shop's customer id).",
                },
                "collective_customer": _int(
                    "A customer number that takes every sale to a consumer (no company, no VAT number); "
                    "the buyer's real name is still printed on the document. null: one customer per buyer.",
                    None, nullable=True,
                ),
                "customer_group": _int("Customer group for created customers.", 1),
                "payment_terms": _int("Payment terms for created customers, and for documents unless `payments` says otherwise.", 1),
            },
        ),
        "vat_zones": _object(
            "The agreement's VAT zone numbers.",
            {
                "domestic": _int("Buyers charged the home country's VAT.", 1),
                "eu": _int("EU businesses with a VAT number, not charged VAT (reverse charge).", 2),
                "abroad": _int("Buyers outside the EU, not charged VAT.", 3),
                "exempt": _int("Home-country sales on which no VAT was charged at all.", 4),
            },
        ),
        "oss": _int(
            "VAT zone for EU consumers charged their own country's VAT (One-Stop-Shop); "
            "null: such an order is an error naming the country and rate.",
            None, nullable=True,
        ),
        "foreign_vat_zones": {
            "type": "object", "default": {},
            "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": _int("The VAT zone for this country's VAT.", None),
            "description": "Country (ISO code) → VAT zone, for VAT of a country outside the EU that the shop charges "
                           "(e.g. NO: Norway's VOEC); without one such an order is an error naming the country.",
        },
        "products": _object(
            "How lines find their e-conomic products.",
            {
                "auto_create": {"type": "boolean", "default": True, "description": "Create a product whose SKU does not exist; false: such an order is an error naming the line."},
                "product_groups": _object(
                    "Product groups for created products, by the VAT they carry in the domestic zone.",
                    {
                        "standard": _int("The group with the standard VAT rate.", 1),
                        "vat_free": _int("The group without VAT.", 2),
                        "gift_cards": _int("The group for gift cards sold: its account is the gift card liability "
                                           "(a debt until the card is used), without VAT; null: the skus.gift_card "
                                           "product must exist.", None, nullable=True),
                    },
                ),
                "default_sku": {
                    "type": ["string", "null"], "minLength": 1, "maxLength": 25, "default": None,
                    "description": "Product number for lines without SKU; null: such an order is an error naming the line.",
                },
                "skus": _object(
                    "Product numbers for lines that are not products; missing ones are created once.",
                    {
                        role: {"type": "string", "minLength": 1, "maxLength": 25, "default": sku, "description": _SKU_TEXT[role].capitalize() + "."}
                        for role, sku in DEFAULT_SKUS.items()
                    },
                ),
            },
        ),
        "payments": _object(
            "Payment terms and layout by payment method.",
            {
                "default": _object("For methods not listed; payment_terms defaults to customers.payment_terms.", copy.deepcopy(_TERMS_AND_LAYOUT)),
                "methods": {
                    "type": "object", "default": {},
                    "description": "The shop's payment method id or title → {payment_terms, layout}.",
                    "additionalProperties": {
                        "type": "object", "additionalProperties": False,
                        "properties": copy.deepcopy(_TERMS_AND_LAYOUT),
                    },
                },
            },
        ),
        "totals": _object(
            "How e-conomic's totals are checked against the shop's.",
            {
                "tolerance": {
                    "type": "number", "minimum": 0, "default": 0.10,
                    "description": "Largest difference in gross or VAT accepted between the shop's totals and the document's.",
                },
                "on_mismatch": {
                    "enum": list(ON_MISMATCH), "default": "draft",
                    "description": "draft: leave the invoice unbooked and report 'totals differ'; "
                    "correction_line: add a line for the difference; ignore: book anyway.",
                },
            },
        ),
    },
}


@dataclass(frozen=True)
class Terms:
    payment_terms: int | None = None
    layout: int | None = None


@dataclass(frozen=True)
class EconomicSettings:
    app_secret_token: str
    agreement_grant_token: str
    url: str = DEFAULT_URL
    layout: int | None = None
    home_country: str = "DK"
    allow_insecure_http: bool = False
    rate_limit: float | None = None
    timeout: float = 30
    ca_bundle: str | None = None
    create_customers: bool = True
    update_customers: bool = False
    match_on: str = "email"
    collective_customer: int | None = None
    customer_group: int = 1
    customer_payment_terms: int = 1
    vat_zones: Mapping[str, int] = field(default_factory=lambda: {"domestic": 1, "eu": 2, "abroad": 3, "exempt": 4})
    oss_zone: int | None = None
    foreign_vat_zones: Mapping[str, int] = field(default_factory=dict)
    auto_create_products: bool = True
    product_groups: Mapping[str, int] = field(default_factory=lambda: {"standard": 1, "vat_free": 2})
    default_sku: str | None = None
    skus: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SKUS))
    default_terms: Terms = field(default_factory=Terms)
    method_terms: Mapping[str, Terms] = field(default_factory=dict)
    tolerance: Decimal = Decimal("0.10")
    on_mismatch: str = "draft"
    exchange_rates: exchange.RatePolicy = field(default_factory=exchange.RatePolicy)

    @classmethod
    def from_section(cls, section: Mapping[str, Any], base_dir: Path | None = None) -> "EconomicSettings":
        """Typed settings from a validated section, defaults applied from the schema."""
        given = with_defaults(CONFIG_SCHEMA, section)
        customers, products, payments, totals = (given[k] for k in ("customers", "products", "payments", "totals"))
        return cls(
            app_secret_token=given["app_secret_token"],
            agreement_grant_token=given["agreement_grant_token"],
            url=given["url"],
            layout=given["layout"],
            home_country=str(given["home_country"]).upper(),
            allow_insecure_http=bool(given["allow_insecure_http"]),
            rate_limit=given["rate_limit"],
            timeout=float(given["timeout"]),
            ca_bundle=_path(given["ca_bundle"], base_dir),
            create_customers=customers["create"],
            update_customers=customers["update"],
            match_on=customers["match_on"],
            collective_customer=customers["collective_customer"],
            customer_group=customers["customer_group"],
            customer_payment_terms=customers["payment_terms"],
            vat_zones=given["vat_zones"],
            oss_zone=given["oss"],
            foreign_vat_zones=dict(given["foreign_vat_zones"]),
            auto_create_products=products["auto_create"],
            product_groups=products["product_groups"],
            default_sku=products["default_sku"],
            skus=products["skus"],
            default_terms=_terms(payments.get("default") or {}),
            method_terms={name: _terms(value or {}) for name, value in (payments.get("methods") or {}).items()},
            tolerance=_decimal(totals["tolerance"]),
            on_mismatch=totals["on_mismatch"],
            exchange_rates=exchange.RatePolicy.from_section(given["exchange_rates"]),
        )

    def terms_for(self, method_id: str, title: str) -> Terms:
        """Payment terms and layout for a payment method: its own, else the defaults."""
        own = self.method_terms.get(method_id) or self.method_terms.get(title) or Terms()
        return Terms(
            payment_terms=own.payment_terms or self.default_terms.payment_terms or self.customer_payment_terms,
            layout=own.layout or self.default_terms.layout or self.layout,
        )


def _path(value: str | None, base_dir: Path | None) -> str | None:
    return str((base_dir or Path(".")) / Path(value).expanduser()) if value else None


def _terms(value: Mapping[str, Any]) -> Terms:
    return Terms(payment_terms=value.get("payment_terms"), layout=value.get("layout"))


def _decimal(value: Any) -> Decimal:
    # YAML gives 0.1 as a float; its shortest repr is what the admin wrote.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
