"""The Shopify shop connector: the GraphQL Admin API (`shop`), with one module a job."""

from iexsync.shops.shopify.shop import ShopifyShop

__all__ = ["ShopifyShop"]
