"""The WooCommerce shop connector: the shop (`shop`), its REST client and errors (`client`),
the order list's paging decisions (`pager`), webhooks (`webhooks`) and the order reader
(`order`)."""

from iexsync.shops.woocommerce.shop import WooCommerceShop

__all__ = ["WooCommerceShop"]
