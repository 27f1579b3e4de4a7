"""A gift card sold is a liability, not revenue (issue 11, remainder).

Money taken for a gift card is owed to its holder until the card is used; the VAT falls due
on the sale it pays for, not on the card. A Shopify order selling one (the fake Shopify,
real GraphQL over loopback) goes to each accounting system on its own liability, without
VAT: Beancount on `accounts.gift_cards`, e-conomic on a product in the gift card product
group, Dinero on `accounts.gift_cards`; where none is set up, the order is an error naming
the key, never revenue.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, bean_check
from tests.fakes.economic import FakeEconomic
from tests.fakes.shopify import TOKEN, ShopifyServer, skip_reason
from tests.test_economic_support import economic_server, plug, section  # noqa: F401
from tests.test_shopify_pull import fake, server  # noqa: F401  (the fake Shopify, one server a module)

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
ENV = {"SHOPIFY_ACCESS_TOKEN": TOKEN}
D = Decimal

# A Danish buyer: a mug (25 % VAT, prices with VAT) and a 100.00 gift card, paid 350.00.
ORDER = {"currency": "DKK", "taxesIncluded": True, "shippingAddress": {"countryCode": "DK"}, "email": "anna@example.dk",
         "lineItems": [{"title": "Mug", "sku": "MUG", "quantity": 2, "priceSet": "125.00",
                        "taxLines": [{"title": "Moms", "rate": 0.25, "priceSet": "50.00"}]},
                       {"title": "Gift card", "quantity": 1, "priceSet": "100.00", "giftCard": True, "taxLines": []}],
         "transactions": [{"kind": "SALE", "gateway": "shopify_payments", "amountSet": "350.00"}]}


def configure(folder: Path, server: ShopifyServer, accounting: dict[str, Any] | None = None) -> Path:
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "shopify", "url": server.url, "access_token": "${SHOPIFY_ACCESS_TOKEN}"}
    tree["transfer"] = {"allowed_states": ["paid"], "document": "invoice", "book": True, "require_sku": True}
    tree["accounting"] = accounting or {"system": "beancount", "path": str(folder / "ledger.beancount")}
    tree["log"] = {"path": str(folder / "iexsync.db")}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


def test_beancount_books_a_sold_gift_card_on_the_liability_without_vat(tmp_path, fake, server, cli) -> None:
    order_id = fake.create_order(ORDER)
    path = configure(tmp_path, server)
    result = cli("sync", "--config", path, env=ENV)
    assert result.exit_code == 0, result.output
    ledger = tmp_path / "ledger.beancount"
    assert bean_check(ledger) == []
    postings = {line.split()[0]: D(line.split()[1]) for line in ledger.read_text().splitlines()
                if line.startswith("  ") and len(line.split()) == 3 and line.split()[2] == "DKK"}
    # The VAT return sees the mug's 200.00 + 50.00 VAT only; the 100.00 is owed to the card's holder.
    assert postings == {"Assets:Receivables:Customers": D("350.00"), "Liabilities:GiftCards": D("-100.00"),
                        "Income:Sales:Vat25": D("-200.00"), "Liabilities:VAT:Output:Vat25": D("-50.00")}
    assert f"iexsync:shopify:{order_id}:invoice" in ledger.read_text()


def test_economic_puts_a_gift_card_on_its_product_group_or_names_the_key(tmp_path, fake, server, economic_server,  # noqa: F811
                                                                         cli) -> None:
    books = plug(economic_server, FakeEconomic(group_rates={1: D("25"), 2: D("0"), 7: D("0")}))
    fake.create_order(ORDER)
    path = configure(tmp_path, server, section(economic_server.url))
    result = cli("sync", "--config", path, env=ENV)
    # Not set up: an error naming the key, and nothing booked as revenue.
    assert result.exit_code == 1
    assert "a gift card was sold, and its product 'gavekort' (accounting.products.skus.gift_card) is not in " \
           "e-conomic" in " ".join(result.output.split())
    assert books.booked == {} and books.drafts == {}

    path = configure(tmp_path, server, section(economic_server.url, products={"product_groups": {"gift_cards": 7}}))
    result = cli("sync", "--config", path, env=ENV)
    assert result.exit_code == 0, result.output
    (invoice,) = books.booked.values()
    assert books.products["gavekort"]["productGroup"]["productGroupNumber"] == 7
    gift = [line for line in invoice["lines"] if line["product"]["productNumber"] == "gavekort"]
    assert [(line["quantity"], line["unitNetPrice"]) for line in gift] == [(D(1), D("100.00"))]
    assert (invoice["grossAmount"], invoice["vatAmount"]) == (D("350.00"), D("50.00"))  # no VAT on the card


def test_dinero_needs_a_liability_account_for_a_gift_card() -> None:
    from iexsync.books.dinero.config import DineroSettings
    from iexsync.books.dinero.vat import account_for
    from iexsync.document import DocumentLine
    from iexsync.errors import MappingError
    from iexsync.model import LineKind
    from iexsync.vat import Treatment, VatTreatment

    card = DocumentLine(kind=LineKind.GIFT_CARD, text="Gift card", quantity=D(1), unit_net=D(100), net=D(100),
                        vat=D(0), vat_rate=D(0))
    sale = VatTreatment(Treatment.DOMESTIC, "DK", (D(25),))
    base = {"organization_id": "1", "client_id": "c", "client_secret": "s", "api_key": "k"}
    with pytest.raises(MappingError, match="set accounting.accounts.gift_cards"):
        account_for(card, sale, None, DineroSettings.from_section(base))  # type: ignore[arg-type]
    settings = DineroSettings.from_section({**base, "accounts": {"gift_cards": 6840}})
    assert account_for(card, sale, None, settings) == 6840  # type: ignore[arg-type]
