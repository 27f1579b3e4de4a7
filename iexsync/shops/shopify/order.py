"""A GraphQL Admin API order (the `OrderFields` selection) → the canonical Order.

How Shopify's money adds up (../shared/vendor/shopify/README.md):
- a line's booked amount is its original total minus *all* its discount allocations
  (`discountedTotalSet` leaves out code-based and order-level discounts); its tax lines are
  after discounts, per rate; with `taxesIncluded` the prices include that tax;
- a shipping line's own tax lines and discount allocations work the same way;
- a gift card sold is a line without tax of kind GIFT_CARD (a liability in the books, not
  revenue; its refund too); a gift card used to pay is a transaction on the
  `gift_card` gateway, a payment, not a discount;
- every amount is a MoneyBag: `currency: shop` reads `shopMoney`, `presentment` reads
  `presentmentMoney`; both sides add up on their own, so nothing is converted.
Every problem raises OrderInvalid naming the field, so the log says what to fix.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from iexsync.errors import OrderInvalid
from iexsync.model import Address, Customer, Line, LineKind, Order, Payment, Refund, TaxLine
from iexsync.money import ZERO, parse_decimal, round_money
from iexsync.shops.guard import read_guarded
from iexsync.shops.shopify.states import state_of
from iexsync.timeutil import parse_time

SOURCE = "shopify"
MAX_TEXT = 2000
PAID_KINDS = ("SALE", "CAPTURE")
VAT_NUMBER_KEYS = ("vat_number", "vat", "vat_id", "tax_id", "cvr")


def parse_order(raw: Any, *, currency: str = "shop", zone: tzinfo | None = None, shop_country: str = "") -> Order:
    """The canonical order for one `OrderFields` node; `zone` is the shop's time zone,
    `shop_country` where it is (the country taxed on an order with no address)."""
    if not isinstance(raw, dict):
        raise OrderInvalid(f"the order is {type(raw).__name__}, expected an object")
    return read_guarded(("the order is", "the order has"), lambda: _Reader(raw, currency, zone, shop_country).order())


def parse_refund(order: Order, raw: Any, *, currency: str = "shop") -> Refund:
    """One refund in full (the `RefundDetail` selection), in the order's money."""
    if not isinstance(raw, dict):
        raise OrderInvalid(f"the refund is {type(raw).__name__}, expected an object")
    return read_guarded(("the order is", "the order has"), lambda: _Reader(order.raw, currency, None).refund(raw))


def order_gid(order_id: str) -> str:
    return order_id if order_id.startswith("gid://") else f"gid://shopify/Order/{order_id}"


class _Reader:
    def __init__(self, raw: dict[str, Any], currency: str, zone: tzinfo | None, shop_country: str = ""):
        self.raw = raw
        self.shop_country = shop_country.upper()
        self.side = "presentmentMoney" if currency == "presentment" else "shopMoney"
        self.zone = zone
        code_key = "presentmentCurrencyCode" if currency == "presentment" else "currencyCode"
        code = raw.get(code_key)
        if not (isinstance(code, str) and len(code) == 3 and code.isalpha()):
            raise OrderInvalid(f"{code_key} is {code!r}, expected a 3-letter ISO code such as DKK")
        self.currency = code.upper()
        self.included = bool(raw.get("taxesIncluded"))

    # --- fields -------------------------------------------------------------------------
    def money(self, obj: Any, key: str, path: str) -> Decimal:
        bag = obj.get(key) if isinstance(obj, dict) else None
        money = bag.get(self.side) if isinstance(bag, dict) else None
        if not isinstance(money, dict):
            raise OrderInvalid(f"{path}{key}.{self.side} is missing")
        if str(money.get("currencyCode", self.currency)).upper() != self.currency:
            raise OrderInvalid(f"{path}{key}.{self.side} is in {money.get('currencyCode')}, expected {self.currency}")
        # Shopify's Decimal scalar is unpadded ("25.0", "13.5"): parse it, never assume two decimals.
        amount = parse_decimal(money.get("amount"), f"{path}{key}.{self.side}.amount")
        if round_money(amount, self.currency) != amount:
            raise OrderInvalid(f"{path}{key}.{self.side}.amount is {money.get('amount')!r}, more decimals than {self.currency} has")
        return round_money(amount, self.currency)

    def text(self, obj: Any, key: str) -> str:
        value = obj.get(key) if isinstance(obj, dict) else None
        return str(value).strip()[:MAX_TEXT] if isinstance(value, (str, int)) and not isinstance(value, bool) else ""

    def nodes(self, obj: Any, key: str, path: str = "") -> list[dict[str, Any]]:
        """A connection's nodes, or a plain list (transactions, refunds, tax lines)."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(value, dict):
            value = value.get("nodes")
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise OrderInvalid(f"{path}{key} is not a list of objects")
        return value

    def time(self, key: str, required: bool = True) -> datetime | None:
        value = self.raw.get(key)
        if value in (None, "") and not required:
            return None
        try:
            moment = parse_time(value, key, assume_utc=False)
        except ValueError as exc:
            raise OrderInvalid(str(exc)) from None
        return moment.astimezone(self.zone) if self.zone else moment

    # --- the order ----------------------------------------------------------------------
    def order(self) -> Order:
        raw = self.raw
        legacy = self.text(raw, "legacyResourceId") or self.text(raw, "id").rsplit("/", 1)[-1]
        if not legacy:
            raise OrderInvalid("id is missing")
        if isinstance(raw.get("lineItems"), dict) and (raw["lineItems"].get("pageInfo") or {}).get("hasNextPage"):
            raise OrderInvalid("lineItems has more lines than were read (the connector reads them all first)")
        country = self.taxed_country()
        lines = [self.product_line(item, f"lineItems[{i}].", country) for i, item in enumerate(self.nodes(raw, "lineItems"))]
        lines += [self.shipping_line(item, f"shippingLines[{i}].", country) for i, item in enumerate(self.nodes(raw, "shippingLines"))]
        custom = self.custom_fields()
        created = self.time("processedAt", required=False) or self.time("createdAt")
        taxes: dict[tuple[str, str], Decimal] = {}  # (title, rate) → amount, over lines and shipping
        for line in lines:
            for tax in line.meta["taxes"]:
                key = (tax["title"], tax["rate"])
                taxes[key] = taxes.get(key, ZERO) + Decimal(tax["amount"])
        return Order(
            order_id=legacy,
            number=self.text(raw, "name").lstrip("#") or legacy,
            state=state_of(raw.get("displayFinancialStatus"), raw.get("displayFulfillmentStatus"), bool(raw.get("cancelledAt"))),
            currency=self.currency,
            created=created,  # type: ignore[arg-type]  # required above
            modified=self.time("updatedAt"),  # type: ignore[arg-type]
            paid=self.paid_at(),
            customer=self.customer(custom),
            lines=tuple(lines),
            shop_total=self.money(raw, "totalPriceSet", ""),
            shop_total_tax=self.money(raw, "totalTaxSet", ""),
            prices_include_tax=self.included,
            payment=self.payment(),
            customer_note=self.text(raw, "note"),
            custom_fields=custom,
            refunds=tuple(self.refund_summary(r, f"refunds[{i}].") for i, r in enumerate(self.nodes(raw, "refunds"))),
            tax_lines=tuple(TaxLine(rate_id=f"{title}:{rate}", rate_code=title.upper(), country=country,
                                    rate=Decimal(rate), label=title, amount=amount)
                            for (title, rate), amount in taxes.items()),
            tax_basis="shipping" if self.address_country("shippingAddress") else "billing",
            source=SOURCE,
            raw=raw,
        )

    def taxed_country(self) -> str:
        """Shopify taxes by the shipping address, the billing one for orders not shipped, and
        at the shop's own location for an order with neither (a sale in the shop)."""
        return self.address_country("shippingAddress") or self.address_country("billingAddress") or self.shop_country

    def address_country(self, key: str) -> str:
        address = self.raw.get(key)
        return self.text(address, "countryCodeV2").upper() if isinstance(address, dict) else ""

    def taxes(self, item: dict[str, Any], path: str, country: str) -> tuple[Decimal, Decimal, list[dict[str, Any]]]:
        """(VAT amount, rate in percent, the tax lines per rate with the country taxed)."""
        total, rate, listed = ZERO, ZERO, []
        for index, tax in enumerate(self.nodes(item, "taxLines", path)):
            where = f"{path}taxLines[{index}]."
            amount = self.money(tax, "priceSet", where)
            percent = tax.get("ratePercentage")
            if percent is None and tax.get("rate") is not None:
                percent = parse_decimal(tax.get("rate"), f"{where}rate") * 100
            percent = parse_decimal(percent if percent is not None else 0, f"{where}ratePercentage")
            total += amount
            rate += percent if amount else ZERO
            listed.append({"title": self.text(tax, "title"), "rate": str(_plain(percent)), "amount": str(amount),
                           "country": country})
        return total, _plain(rate), listed

    def discounts(self, item: dict[str, Any], path: str) -> tuple[Decimal, list[dict[str, Any]]]:
        applications = {a.get("index"): a for a in self.nodes(self.raw, "discountApplications")}
        total, listed = ZERO, []
        for index, allocation in enumerate(self.nodes(item, "discountAllocations", path)):
            amount = self.money(allocation, "allocatedAmountSet", f"{path}discountAllocations[{index}].")
            ref = (allocation.get("discountApplication") or {}).get("index")
            application = applications.get(ref) or {}
            total += amount
            listed.append({"amount": str(amount), "index": ref,
                           "title": self.text(application, "code") or self.text(application, "title"),
                           "type": self.text(application, "__typename")})
        return total, listed

    def product_line(self, item: dict[str, Any], path: str, country: str) -> Line:
        quantity = parse_decimal(item.get("quantity"), f"{path}quantity")
        if quantity <= 0:
            raise OrderInvalid(f"{path}quantity is {item.get('quantity')!r}; an order line needs a positive quantity")
        unit = self.money(item, "originalUnitPriceSet", path)
        original = unit * quantity  # originalTotalSet is exactly this; not asked for, it costs a point
        off, allocations = self.discounts(item, path)
        vat, rate, taxes = self.taxes(item, path, country)
        gift_card = bool(item.get("isGiftCard"))
        if gift_card and vat:
            raise OrderInvalid(f"{path}: a gift card was sold with tax {vat}; gift cards carry no VAT until used")
        booked = original - off  # what the line is sold for after every discount
        net = booked - vat if self.included else booked
        title = self.text(item, "name") or self.text(item, "title") or "Product"
        return Line(
            kind=LineKind.GIFT_CARD if gift_card else LineKind.PRODUCT,
            text=title,
            sku=self.text(item, "sku"),
            quantity=quantity,
            unit_net=(net / quantity).quantize(Decimal("0.0001")),
            net=net,
            vat=vat,
            vat_rate=rate,
            meta={
                "line_item_id": self.text(item, "id"),
                "variant_id": self.text(item.get("variant") or {}, "id"),
                "variant": self.text(item, "variantTitle"),
                "original_unit_price": str(unit),
                "original_total": str(original),
                "discounts": allocations,
                "taxes": taxes,
                **({"gift_card": True} if gift_card else {}),
                **({"attributes": {a.get("key"): a.get("value") for a in self.nodes(item, "customAttributes")}}
                   if self.nodes(item, "customAttributes") else {}),
            },
        )

    def shipping_line(self, item: dict[str, Any], path: str, country: str) -> Line:
        original = self.money(item, "originalPriceSet", path)
        off, allocations = self.discounts(item, path)
        # Since 2024-07 discountedPriceSet includes free-shipping discounts, which may come without allocations.
        booked = original - off if allocations else self.money(item, "discountedPriceSet", path)
        vat, rate, taxes = self.taxes(item, path, country)
        net = booked - vat if self.included else booked
        return Line(
            kind=LineKind.SHIPPING,
            text=self.text(item, "title") or "Shipping",
            quantity=Decimal(1),
            unit_net=net,
            net=net,
            vat=vat,
            vat_rate=rate,
            meta={"code": self.text(item, "code"), "original_price": str(original), "discounts": allocations,
                  "taxes": taxes, "shipping_line_id": self.text(item, "id")},
        )

    def transactions(self) -> list[dict[str, Any]]:
        return [t for t in self.nodes(self.raw, "transactions") if t.get("status") == "SUCCESS"]

    def paid_at(self) -> datetime | None:
        times = [t.get("processedAt") for t in self.transactions() if t.get("kind") in PAID_KINDS and t.get("processedAt")]
        if not times:
            return None
        moment = parse_time(min(times), "transactions.processedAt")
        return moment.astimezone(self.zone) if self.zone else moment

    def payment(self) -> Payment:
        paid = [t for t in self.transactions() if t.get("kind") in PAID_KINDS]
        gateways = [str(g) for g in self.raw.get("paymentGatewayNames") or [] if isinstance(g, str)]
        return Payment(
            method_id=self.text(paid[0], "gateway") if paid else (gateways[0] if gateways else ""),
            title=", ".join(gateways),
            transaction_id=self.text(paid[0], "id").rsplit("/", 1)[-1] if paid else "",
        )

    def custom_fields(self) -> dict[str, Any]:
        """Note attributes, metafields (`namespace.key`), tags, discounts and payments."""
        raw = self.raw
        fields: dict[str, Any] = {a.get("key"): a.get("value") for a in self.nodes(raw, "customAttributes")
                                  if isinstance(a.get("key"), str)}
        for meta in self.nodes(raw, "metafields"):
            fields[f"{meta.get('namespace')}.{meta.get('key')}"] = meta.get("value")
        fields["tags"] = [t for t in raw.get("tags") or [] if isinstance(t, str)]
        fields["discount_codes"] = [c for c in raw.get("discountCodes") or [] if isinstance(c, str)]
        fields["payments"] = [
            {"gateway": self.text(t, "gateway"), "kind": self.text(t, "kind"),
             "amount": str(self.money(t, "amountSet", f"transactions[{i}]."))}
            for i, t in enumerate(self.transactions())
        ]
        if raw.get("poNumber"):
            fields["po_number"] = self.text(raw, "poNumber")
        fields["closed"] = bool(raw.get("closed"))
        fields["test"] = bool(raw.get("test"))
        return fields

    def address(self, key: str) -> Address:
        value = self.raw.get(key) or {}
        if not isinstance(value, dict):
            raise OrderInvalid(f"{key} is not an object")
        name = " ".join(p for p in (self.text(value, "firstName"), self.text(value, "lastName")) if p)
        return Address(
            name=name, company=self.text(value, "company"), street=self.text(value, "address1"),
            street2=self.text(value, "address2"), city=self.text(value, "city"), postcode=self.text(value, "zip"),
            state=self.text(value, "provinceCode"), country=self.text(value, "countryCodeV2").upper(),
        )

    def customer(self, custom: dict[str, Any]) -> Customer:
        billing, shipping = self.address("billingAddress"), self.address("shippingAddress")
        buyer = self.raw.get("customer") if isinstance(self.raw.get("customer"), dict) else {}
        buyer_name = " ".join(p for p in (self.text(buyer, "firstName"), self.text(buyer, "lastName")) if p)
        email = self.text(self.raw, "email") or self.text(buyer.get("defaultEmailAddress") or {}, "emailAddress")
        vat_number = next((str(custom[k]).strip() for k in VAT_NUMBER_KEYS if str(custom.get(k) or "").strip()), "")
        return Customer(
            name=billing.name or billing.company or buyer_name or shipping.name or email or "Guest",
            email=email.lower(),
            company=billing.company,
            phone=self.text(self.raw.get("billingAddress") or {}, "phone") or self.text(self.raw, "phone"),
            vat_number=vat_number.replace(" ", "").upper(),
            shop_customer_id=self.text(buyer, "id").rsplit("/", 1)[-1],
            billing=billing if any((billing.street, billing.city, billing.name, billing.country)) else shipping,
            shipping=shipping if any((shipping.street, shipping.city, shipping.name)) else billing,
        )

    # --- refunds ------------------------------------------------------------------------
    def refund_summary(self, item: dict[str, Any], path: str) -> Refund:
        created = item.get("createdAt")
        return Refund(
            refund_id=self.text(item, "id").rsplit("/", 1)[-1],
            amount=self.money(item, "totalRefundedSet", path),
            reason=self.text(item, "note"),
            created=parse_time(created, f"{path}createdAt") if created else None,
        )

    def refund(self, item: dict[str, Any]) -> Refund:
        # A returned item is taxed at its order line's rate; derived from the amounts only when unknown.
        rates = {line.get("id"): self.taxes(line, "", "")[1] for line in self.nodes(self.raw, "lineItems")}
        gift_cards = {line.get("id") for line in self.nodes(self.raw, "lineItems") if line.get("isGiftCard")}
        lines = []
        for index, entry in enumerate(self.nodes(item, "refundLineItems")):
            path = f"refundLineItems[{index}]."
            quantity = parse_decimal(entry.get("quantity") or 1, f"{path}quantity")
            vat = self.money(entry, "totalTaxSet", path)
            amount = self.money(entry, "subtotalSet", path)
            net = amount - vat if self.included else amount
            line_item = entry.get("lineItem") or {}
            lines.append(Line(
                kind=LineKind.GIFT_CARD if line_item.get("id") in gift_cards else LineKind.PRODUCT,
                text=self.text(line_item, "name") or "Returned item",
                sku=self.text(line_item, "sku"), quantity=quantity,
                unit_net=(net / quantity).quantize(Decimal("0.0001")), net=net, vat=vat,
                vat_rate=rates.get(line_item.get("id")) or _rate(net, vat) if vat else ZERO,
                meta={"line_item_id": self.text(line_item, "id")},
            ))
        for index, entry in enumerate(self.nodes(item, "refundShippingLines")):
            path = f"refundShippingLines[{index}]."
            vat = self.money(entry, "taxAmountSet", path)
            amount = self.money(entry, "subtotalAmountSet", path)
            net = amount - vat if self.included else amount
            lines.append(Line(
                kind=LineKind.SHIPPING, text=self.text(entry.get("shippingLine") or {}, "title") or "Shipping",
                quantity=Decimal(1), unit_net=net, net=net, vat=vat, vat_rate=_rate(net, vat),
            ))
        summary = self.refund_summary(item, "")
        return Refund(summary.refund_id, summary.amount, summary.reason, summary.created, tuple(lines))


def _plain(rate: Decimal) -> Decimal:
    """10 rather than 1E+1 or 10.0000: rates name accounts and VAT codes."""
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


def _rate(net: Decimal, vat: Decimal) -> Decimal:
    """A refund line's rate from its amounts, snapped to a known VAT rate."""
    from iexsync.shops.woocommerce.order import derive_rate  # the one place rates are derived from amounts

    return derive_rate(net, vat) if net and vat else ZERO
