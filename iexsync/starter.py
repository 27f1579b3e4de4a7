"""`iexsync config init`: a commented starter config for a shop and an accounting system.

Secrets are written as ${NAME} references, so the file itself holds none (and cron's
environment or a systemd EnvironmentFile carries them).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def choices(kind: str) -> list[str]:
    """The connectors `config init` offers: every registered one (built in or a plugin)."""
    from iexsync import registry

    return registry.names(kind)


def connector(kind: str, name: str) -> Any:
    """The connector class; its `starter` is the commented section, `starter_at` what to ask
    for it as (prompt, default), or None when the section needs nothing asked."""
    from iexsync import registry

    return registry.load(kind, name)


def asks(kind: str, name: str) -> tuple[str, str] | None:
    return getattr(connector(kind, name), "starter_at", None)


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


def render(shop: str, books: str, shop_at: str | None, books_at: str | None, start: str) -> str:
    """The whole file; an address or path not given takes the connector's default."""
    head = ("# yaml-language-server: $schema=https://iexsync.invalid/config.schema.json\n"
            f"# iexsync: {shop} orders into {books}. Check it with `iexsync config check -c FILE`.\n"
            "# Paths are relative to this file; ${NAME} takes the environment variable NAME.\n")
    return (head + _section("shops", shop, shop_at) + "\n" + _section("books", books, books_at)
            + REST.format(start=start))


def _section(kind: str, name: str, at: str | None) -> str:
    cls = connector(kind, name)
    template = getattr(cls, "starter", None)
    if template is None:  # a plugin without one: the least a config needs, to be filled in
        key = "platform" if kind == "shops" else "system"
        return f"{'shop' if kind == 'shops' else 'accounting'}:\n  {key}: {name}   # see the connector's documentation\n"
    asked = getattr(cls, "starter_at", None)
    return template.format(at=at or (asked[1] if asked else ""))
