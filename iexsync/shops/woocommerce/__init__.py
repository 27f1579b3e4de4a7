"""The WooCommerce shop connector: REST API v3 (`shop`) and its order reader (`order`)."""

from iexsync.shops.woocommerce.shop import WooCommerceShop

__all__ = ["WooCommerceShop"]
