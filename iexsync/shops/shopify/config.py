"""The `shop:` section for `platform: shopify`: its JSON Schema and typed settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iexsync import errors

DEFAULT_API_VERSION = "2025-10"
MAX_PAGE = 250  # Shopify's cap on `first` for every connection

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url", "access_token"],
    "properties": {
        "url": {
            "type": "string", "pattern": "^https?://",
            "description": "The shop's admin address, e.g. https://my-shop.myshopify.com (the GraphQL Admin API is "
                           "found under /admin/api/<api_version>/graphql.json there).",
        },
        "access_token": {
            "type": "string", "minLength": 4, "writeOnly": True,
            "description": "The Admin API access token of a custom app (shpat_…) with the read_orders scope, and "
                           "read_all_orders for orders older than 60 days.",
        },
        "api_version": {
            "type": "string", "pattern": "^[0-9]{4}-(01|04|07|10)$", "default": DEFAULT_API_VERSION,
            "description": "The GraphQL Admin API version, e.g. 2025-10 (Shopify supports each for a year).",
        },
        "webhook_secret": {
            "type": ["string", "null"], "default": None, "writeOnly": True,
            "description": "The app's client secret, which signs webhook deliveries (X-Shopify-Hmac-Sha256); "
                           "without it every delivery is refused.",
        },
        "currency": {
            "type": "string", "enum": ["shop", "presentment"], "default": "shop",
            "description": "Which money the documents are in: the shop's currency or the one the buyer paid in.",
        },
        "page_size": {
            "type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50,
            "description": "Orders per request at most; iexsync asks for fewer when the query's cost would exceed "
                           "Shopify's limit.",
        },
        "allow_insecure_http": {
            "type": "boolean", "default": False,
            "description": "Allow a plain http:// url that is not this machine (the token then travels in clear).",
        },
        "timeout": {
            "type": "number", "exclusiveMinimum": 0, "maximum": 600, "default": 30,
            "description": "Seconds to wait for an answer before the request is retried.",
        },
    },
}


@dataclass(frozen=True)
class ShopifySettings:
    url: str
    access_token: str
    api_version: str = DEFAULT_API_VERSION
    webhook_secret: str | None = None
    currency: str = "shop"
    page_size: int = 50
    allow_insecure_http: bool = False
    timeout: float = 30

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> "ShopifySettings":
        return cls(
            url=str(section["url"]),
            access_token=str(section["access_token"]),
            api_version=str(section.get("api_version") or DEFAULT_API_VERSION),
            webhook_secret=section.get("webhook_secret") or None,
            currency=str(section.get("currency") or "shop"),
            page_size=int(section.get("page_size") or 50),
            allow_insecure_http=bool(section.get("allow_insecure_http", False)),
            timeout=float(section.get("timeout") or 30),
        )

    def endpoint(self) -> str:
        """The GraphQL endpoint from the shop's address (an admin URL with a path works too)."""
        match = re.match(r"^(https?://[^/]+)", self.url.strip())
        if not match:
            raise errors.ConfigError([f"shop.url: {self.url!r} is not the shop's address (https://my-shop.myshopify.com)"])
        return f"{match.group(1)}/admin/api/{self.api_version}/graphql.json"
