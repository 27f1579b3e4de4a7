"""`iexsync config init`: a commented starter config for a shop and an accounting system.

Secrets are written as ${NAME} references, so the file itself holds none (and cron's
environment or a systemd EnvironmentFile carries them).
"""

from __future__ import annotations

SHOPS = {
    "file": """shop:
  platform: file              # a folder of WooCommerce-shaped order JSON files
  path: {shop}
""",
    "woocommerce": """shop:
  platform: woocommerce
  url: {shop}                 # the shop's address; the REST API is under /wp-json/wc/v3
  consumer_key: ${{WC_CONSUMER_KEY}}        # WooCommerce → Settings → Advanced → REST API (Read)
  consumer_secret: ${{WC_CONSUMER_SECRET}}
  # webhook_secret: ${{WC_WEBHOOK_SECRET}}  # for `iexsync webhook serve`
""",
}

BOOKS = {
    "beancount": """accounting:
  system: beancount           # a plain-text double-entry ledger
  path: {books}
""",
    "economic": """accounting:
  system: economic
  app_secret_token: ${{ECONOMIC_APP_SECRET_TOKEN}}
  agreement_grant_token: ${{ECONOMIC_AGREEMENT_GRANT_TOKEN}}
""",
}

DEFAULTS = {"file": "orders", "woocommerce": "https://shop.example.com", "beancount": "books/ledger.beancount"}

REST = """
transfer:
  allowed_states: [completed]   # `iexsync states` lists the shop's states
  document: invoice             # invoice | order
  book: false                   # true: book invoices at once (a draft otherwise)
  refunds: credit_note
  start_date: {start}           # orders created before this are skipped; `iexsync import` takes older ones

mappings:
  heading: "Order {{{{ order.number }}}}"

# notify:                       # mail the first time an order fails (see the README)
#   email: {{to: [you@example.com], host: smtp.example.com, username: you@example.com, password: ${{SMTP_PASSWORD}}}}

log:
  path: iexsync.db
"""


def render(shop: str, books: str, shop_value: str, books_value: str, start: str) -> str:
    head = ("# yaml-language-server: $schema=https://iexsync.invalid/config.schema.json\n"
            f"# iexsync: {shop} orders into {books}. Check it with `iexsync config check -c FILE`.\n"
            "# Paths are relative to this file; ${NAME} takes the environment variable NAME.\n")
    return (head + SHOPS[shop].format(shop=shop_value) + "\n" + BOOKS[books].format(books=books_value)
            + REST.format(start=start))
