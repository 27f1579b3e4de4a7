"""A WooCommerce REST v3 order (JSON) → the canonical Order.

Shared by the `file` shop (a folder of such JSON files) and the `woocommerce` connector.
Facts this relies on (WooCommerce REST API docs, wp-api-v3 `_orders.md`):
- money is a string with 2 decimals; `line_items[].total` is the line's net after
  coupons and `subtotal` before them, even when `prices_include_tax` is true;
- `taxes[]` on each line names tax rate ids that `tax_lines[]` describe;
  `tax_lines[].rate_percent` (WooCommerce 3.7+) gives the rate, else it is derived;
- the `*_gmt` twins of the dates are UTC without an offset.
Every problem raises OrderInvalid naming the field and the value, so the log says what to fix.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from iexsync import vat as vat_rules
from iexsync.errors import OrderInvalid
from iexsync.model import Address, Customer, Line, LineKind, Order, Payment, Refund, TaxLine
from iexsync.money import ZERO, MoneyError, parse_decimal, parse_money, quantum, round_money
from iexsync.shops.guard import read_guarded
from iexsync.timeutil import parse_time

SOURCE = "woocommerce"

# Meta keys under which common EU VAT plugins store the buyer's VAT number and EAN.
VAT_NUMBER_KEYS = (
    "_billing_vat_number", "billing_vat_number", "_vat_number", "vat_number",
    "_billing_eu_vat_number", "_eu_vat_number", "billing_eu_vat_number", "_billing_vat",
    "yweu_billing_vat",
)
EAN_KEYS = ("_billing_ean", "billing_ean", "_ean", "ean", "_billing_ean_number", "ean_number")

MAX_TEXT = 2000  # a line text longer than this is cut: no accounting system takes more


def parse_order(raw: Any, refunds: list[dict[str, Any]] | None = None, *, tax_basis: str = "shipping") -> Order:
    """The canonical order for one WooCommerce order object.

    Its refunds are the summaries in the order's own `refunds` array (id, amount, reason);
    `refunds`, the order's refund objects from /orders/<id>/refunds, replaces them with the
    full ones (see `parse_refunds`). `tax_basis` is the shop's "Calculate tax based on"
    setting (shipping, billing or base), which the order itself does not carry.
    """
    if not isinstance(raw, dict):
        raise OrderInvalid(f"the order is a {type(raw).__name__}, expected a JSON object")
    reader = _Reader(_without_lone_surrogates(raw))
    reader.tax_basis = tax_basis
    return read_guarded(("the order is", "the order has"), lambda: reader.order(
        _without_lone_surrogates(refunds) if refunds is not None else None))


def parse_refunds(order: Order, detailed: Any) -> tuple[Refund, ...]:
    """An order's refunds with their returned lines: `detailed` is what GET
    /orders/<id>/refunds answered, read in the context of the order `parse_order` made
    (its currency; its raw payload is already free of lone surrogates)."""
    if not isinstance(detailed, list):
        raise OrderInvalid(f"its refunds are {_show(detailed)}, expected a list")

    def read() -> tuple[Refund, ...]:
        reader = _Reader(order.raw)
        reader.currency = order.currency
        return reader.refunds(_without_lone_surrogates(detailed))

    return read_guarded(("its refunds are", "its refunds have"), read)


class _Reader:
    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.currency = "USD"
        self.tax_basis = "shipping"

    # --- fields -------------------------------------------------------------------------
    def field(self, obj: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        value = obj.get(key, default)
        if value is ...:
            raise OrderInvalid(f"{path}{key} is missing")
        if value is None and default is not ...:
            return default
        if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
            raise OrderInvalid(f"{path}{key} is {_show(value)}, expected {_kind_name(kind)}")
        return value

    def text(self, obj: dict[str, Any], key: str, path: str = "") -> str:
        value = self.field(obj, key, path, (str, int), "")
        from html import unescape  # here, not at the top: an idle run parses no order (html.entities is big)

        return unescape(str(value)).strip()[:MAX_TEXT]

    def money(self, obj: dict[str, Any], key: str, path: str, default: Any = ...) -> Decimal:
        value = obj.get(key, default)
        if value is ...:
            raise OrderInvalid(f"{path}{key} is missing")
        try:
            return parse_money(value, f"{path}{key}", self.currency)
        except MoneyError as exc:
            raise OrderInvalid(str(exc)) from None

    def time(self, key: str, required: bool = True) -> datetime | None:
        value = self.raw.get(key)
        if value in (None, "") and not required:
            return None
        try:
            return parse_time(value, key)
        except ValueError as exc:
            raise OrderInvalid(str(exc)) from None

    def local_time(self, key: str, required: bool = True, obj: dict[str, Any] | None = None,
                   path: str = "") -> datetime | None:
        """The UTC instant from `<key>_gmt`, shown in the shop's own offset.

        WooCommerce sends the shop's local time and its GMT twin, both without offset;
        their difference is the shop's offset at that instant (DST included), so a
        document's date is the shop's date: 00:30 on 1 July in Copenhagen is 1 July.
        `obj` is the object holding the pair (the order itself unless given).
        """
        obj = self.raw if obj is None else obj
        gmt_key = f"{key}_gmt"

        def at(name: str) -> datetime | None:
            value = obj.get(name)
            if value in (None, "") and not required:
                return None
            try:
                return parse_time(value, f"{path}{name}")
            except ValueError as exc:
                raise OrderInvalid(str(exc)) from None

        if not obj.get(gmt_key):
            return at(key)
        instant = at(gmt_key)
        local = at(key) if obj.get(key) else None
        if instant is None or local is None:
            return instant
        offset = (local - instant).total_seconds()
        minutes = round(offset / 60)
        if abs(minutes) > 14 * 60:
            return instant  # not a time-zone offset: trust the GMT field
        return instant.astimezone(timezone(timedelta(minutes=minutes)))

    def read_currency(self) -> None:
        """The order's currency: every amount in it (and in its refunds) is read in it."""
        currency = self.field(self.raw, "currency", "", str)
        if not (len(currency) == 3 and currency.isalpha()):
            raise OrderInvalid(f"currency is {_show(currency)}, expected a 3-letter ISO code such as DKK")
        self.currency = currency.upper()

    # --- the order ----------------------------------------------------------------------
    def order(self, refunds: list[dict[str, Any]] | None) -> Order:
        raw = self.raw
        order_id = self.field(raw, "id", "", (int, str))
        if not str(order_id).strip():
            raise OrderInvalid("id is empty")
        self.read_currency()
        status = self.field(raw, "status", "", str)
        if not status.strip():
            raise OrderInvalid("status is empty")
        created = self.local_time("date_created")
        modified = self.local_time("date_modified")
        paid = self.local_time("date_paid", required=False)
        completed = self.local_time("date_completed", required=False)
        rates = self.tax_rates()
        lines: list[Line] = []
        lines += self.product_lines(rates)
        lines += self.discount_lines(lines)
        lines += self.shipping_lines(rates)
        lines += self.fee_lines(rates)
        custom = self.custom_fields()
        return Order(
            order_id=str(order_id),
            number=self.text(raw, "number") or str(order_id),
            state=status.strip(),
            currency=self.currency,
            created=created,
            modified=modified,
            paid=paid,
            completed=completed,
            customer=self.customer(custom),
            lines=tuple(lines),
            shop_total=self.money(raw, "total", ""),
            shop_total_tax=self.money(raw, "total_tax", "", "0"),
            prices_include_tax=bool(raw.get("prices_include_tax", False)),
            payment=Payment(
                method_id=self.text(raw, "payment_method"),
                title=self.text(raw, "payment_method_title"),
                transaction_id=self.text(raw, "transaction_id"),
            ),
            customer_note=self.text(raw, "customer_note"),
            custom_fields=custom,
            refunds=self.refunds(refunds),
            tax_lines=self.tax_lines(rates),
            tax_basis=self.tax_basis,
            source=SOURCE,
            raw=raw,
        )

    def items(self, key: str) -> list[dict[str, Any]]:
        value = self.raw.get(key) or []
        if not isinstance(value, list):
            raise OrderInvalid(f"{key} is {_show(value)}, expected a list")
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise OrderInvalid(f"{key}[{index}] is {_show(item)}, expected an object")
        return value

    def tax_rates(self) -> dict[str, Decimal | None]:
        """rate id → percent (None where the shop does not say: derived per line)."""
        rates: dict[str, Decimal | None] = {}
        for index, tax in enumerate(self.items("tax_lines")):
            rate_id = str(self.field(tax, "rate_id", f"tax_lines[{index}].", (int, str)))
            percent = tax.get("rate_percent")
            if percent is None:
                rates[rate_id] = None
                continue
            try:
                rates[rate_id] = parse_decimal(percent, f"tax_lines[{index}].rate_percent")
            except MoneyError as exc:
                raise OrderInvalid(str(exc)) from None
            if not ZERO <= rates[rate_id] <= 100:  # type: ignore[operator]
                raise OrderInvalid(f"tax_lines[{index}].rate_percent is {percent!r}, expected 0 to 100")
        return rates

    def tax_lines(self, rates: dict[str, Decimal | None]) -> tuple[TaxLine, ...]:
        """The order's taxes with the country each one's VAT belongs to.

        WooCommerce names a rate COUNTRY-STATE-NAME-PRIORITY in `rate_code` (empty parts
        left out, so a rate for every country starts with its name: `MOMS-1`); the
        country is its first part when that is an ISO country code and more follows.
        """
        result = []
        for index, tax in enumerate(self.items("tax_lines")):
            path = f"tax_lines[{index}]."
            rate_id = str(self.field(tax, "rate_id", path, (int, str)))
            code = self.text(tax, "rate_code", path).upper()
            amount = self.money(tax, "tax_total", path, "0") + self.money(tax, "shipping_tax_total", path, "0")
            result.append(TaxLine(rate_id=rate_id, rate_code=code, country=rate_code_country(code),
                                  rate=rates.get(rate_id), label=self.text(tax, "label", path), amount=amount))
        return tuple(result)

    def line_rate(
        self, item: dict[str, Any], path: str, rates: dict[str, Decimal | None], net: Decimal, vat: Decimal,
        tax_key: str = "total",
    ) -> Decimal:
        """The VAT percent on a line: the sum of the rates it was taxed at.

        `tax_key` names the `taxes[]` amount that goes with `net` ("subtotal" when the
        line's net is its subtotal). Those amounts are unrounded ("1.125" where the line
        says "1.13"), so a rate derived from them is exact: 7.5 %, not 7.53 % or 7.7 %.
        """
        taxes = item.get("taxes") or []
        if not isinstance(taxes, list):
            raise OrderInvalid(f"{path}taxes is {_show(taxes)}, expected a list")
        charged = []
        exact = ZERO
        for index, tax in enumerate(taxes):
            if not isinstance(tax, dict):
                raise OrderInvalid(f"{path}taxes[{index}] is {_show(tax)}, expected an object")
            amount = self.money(tax, tax_key, f"{path}taxes[{index}].", "0")
            if amount != ZERO:
                charged.append(str(tax.get("id")))
                try:
                    exact += parse_decimal(tax.get(tax_key), f"{path}taxes[{index}].{tax_key}")
                except MoneyError as exc:
                    raise OrderInvalid(str(exc)) from None
        if vat == ZERO or not charged:
            return ZERO
        known = [rates.get(rate_id) for rate_id in charged]
        if all(rate is not None for rate in known):
            rate = sum(known, ZERO)  # type: ignore[arg-type]
            # The rate the tax lines name must be the one the amounts were taxed at (a cent of
            # rounding and a tenth of a percent aside): else the books would carry the wrong rate.
            if net != ZERO and abs(net * rate / 100 - vat) > Decimal("0.02") + abs(net) / 1000:
                raise OrderInvalid(
                    f"{path}total_tax is {vat} on {net}, which is not the {rate.normalize():f} % that tax_lines "
                    "give for its rate; check the shop's tax rates")
            return rate
        if net == ZERO:
            raise OrderInvalid(f"{path}total is 0 but VAT {vat} was charged; cannot tell the VAT rate")
        # Trust the unrounded amounts only where they agree with the line's own VAT.
        if abs(round_money(exact, self.currency) - vat) <= quantum(self.currency):
            return derive_rate(net, exact)
        return derive_rate(net, vat)

    def product_lines(self, rates: dict[str, Decimal | None]) -> list[Line]:
        lines = []
        for index, item in enumerate(self.items("line_items")):
            path = f"line_items[{index}]."
            quantity = self.quantity(item, path)
            subtotal = self.money(item, "subtotal", path, item.get("total", ...))
            subtotal_tax = self.money(item, "subtotal_tax", path, item.get("total_tax", "0"))
            total = self.money(item, "total", path)
            total_tax = self.money(item, "total_tax", path, "0")
            if total:
                rate = self.line_rate(item, path, rates, total, total_tax)
            else:  # a line a coupon made free: its rate shows in the amounts before the coupon
                rate = self.line_rate(item, path, rates, subtotal, subtotal_tax, tax_key="subtotal")
            if not isinstance(item.get("meta_data") or [], list):
                raise OrderInvalid(f"{path}meta_data is {_show(item.get('meta_data'))}, expected a list")
            meta = _meta_dict(item.get("meta_data"))
            lines.append(
                Line(
                    kind=LineKind.PRODUCT,
                    text=self.text(item, "name", path) or f"Product {item.get('product_id', '')}".strip(),
                    sku=self.text(item, "sku", path),
                    quantity=quantity,
                    unit_net=unit_price(subtotal, quantity),
                    net=subtotal,
                    vat=subtotal_tax,
                    vat_rate=rate,
                    meta={
                        "product_id": item.get("product_id"),
                        "variation_id": item.get("variation_id"),
                        "discounted_net": str(total),
                        "discounted_vat": str(total_tax),
                        **({"attributes": meta} if meta else {}),
                    },
                )
            )
        return lines

    def quantity(self, item: dict[str, Any], path: str) -> Decimal:
        try:
            quantity = parse_decimal(item.get("quantity"), f"{path}quantity")
        except MoneyError as exc:
            raise OrderInvalid(str(exc)) from None
        if quantity <= 0:
            raise OrderInvalid(f"{path}quantity is {item.get('quantity')!r}; an order line needs a positive quantity")
        return quantity

    def discount_lines(self, products: list[Line]) -> list[Line]:
        """Coupons, one line per VAT rate: what the lines' subtotals lose to reach their totals.

        Product lines carry the price before coupons, so the discount shows on the document
        the way the customer saw it, and the sum still equals the shop's total.
        """
        by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
        for line in products:
            net_off = line.net - Decimal(line.meta["discounted_net"])
            vat_off = line.vat - Decimal(line.meta["discounted_vat"])
            if net_off or vat_off:
                old_net, old_vat = by_rate.get(line.vat_rate, (ZERO, ZERO))
                by_rate[line.vat_rate] = (old_net + net_off, old_vat + vat_off)
        if not by_rate:
            return []
        codes = [self.text(c, "code") for c in self.items("coupon_lines")]
        label = "Discount" + (f" ({', '.join(c for c in codes if c)})" if any(codes) else "")
        return [
            Line(
                kind=LineKind.DISCOUNT,
                text=label if len(by_rate) == 1 else f"{label} {rate.normalize():f}% VAT",
                quantity=Decimal(1),
                unit_net=-net,
                net=-net,
                vat=-vat,
                vat_rate=rate,
                meta={"coupons": codes},
            )
            for rate, (net, vat) in sorted(by_rate.items(), reverse=True)
        ]

    def shipping_lines(self, rates: dict[str, Decimal | None]) -> list[Line]:
        return [
            self.single_line(item, f"shipping_lines[{index}].", rates, LineKind.SHIPPING,
                             self.text(item, "method_title") or "Shipping", {"method_id": item.get("method_id")})
            for index, item in enumerate(self.items("shipping_lines"))
        ]

    def fee_lines(self, rates: dict[str, Decimal | None]) -> list[Line]:
        return [
            self.single_line(item, f"fee_lines[{index}].", rates, LineKind.FEE, self.text(item, "name") or "Fee",
                             {"tax_status": item.get("tax_status")})
            for index, item in enumerate(self.items("fee_lines"))
        ]

    def single_line(self, item: dict[str, Any], path: str, rates: dict[str, Decimal | None], kind: LineKind,
                    text: str, meta: dict[str, Any]) -> Line:
        """A shipping or fee line: one unit at its total; a negative fee is a discount."""
        net = self.money(item, "total", path)
        vat = self.money(item, "total_tax", path, "0")
        return Line(
            kind=LineKind.DISCOUNT if kind is LineKind.FEE and net < 0 else kind,
            text=text,
            quantity=Decimal(1),
            unit_net=net,
            net=net,
            vat=vat,
            vat_rate=self.line_rate(item, path, rates, net, vat),
            meta=meta,
        )

    def custom_fields(self) -> dict[str, Any]:
        meta = self.raw.get("meta_data") or []
        if not isinstance(meta, list):
            raise OrderInvalid(f"meta_data is {_show(meta)}, expected a list")
        return _meta_dict(meta)

    def address(self, key: str) -> tuple[Address, dict[str, Any]]:
        value = self.raw.get(key) or {}
        if not isinstance(value, dict):
            raise OrderInvalid(f"{key} is {_show(value)}, expected an object")
        path = f"{key}."
        name = " ".join(p for p in (self.text(value, "first_name", path), self.text(value, "last_name", path)) if p)
        country = self.text(value, "country", path).upper()
        if country and not (len(country) == 2 and country.isalpha()):
            raise OrderInvalid(f"{path}country is {_show(value.get('country'))}, expected a 2-letter ISO code such as DK")
        return (
            Address(
                name=name,
                company=self.text(value, "company", path),
                street=self.text(value, "address_1", path),
                street2=self.text(value, "address_2", path),
                city=self.text(value, "city", path),
                postcode=self.text(value, "postcode", path),
                state=self.text(value, "state", path),
                country=country,
            ),
            value,
        )

    def customer(self, custom: dict[str, Any]) -> Customer:
        billing, billing_raw = self.address("billing")
        shipping, _ = self.address("shipping")
        vat_number = _first(custom, VAT_NUMBER_KEYS) or _first(billing_raw, ("vat_number", "vat"))
        ean = _first(custom, EAN_KEYS) or _first(billing_raw, ("ean",))
        customer_id = self.raw.get("customer_id") or 0
        name = billing.name or billing.company or shipping.name or self.text(billing_raw, "email", "billing.")
        return Customer(
            name=name or "Guest",
            email=self.text(billing_raw, "email", "billing.").lower(),
            company=billing.company,
            phone=self.text(billing_raw, "phone", "billing."),
            vat_number=vat_number.replace(" ", "").upper(),
            ean=ean.replace(" ", ""),
            shop_customer_id=str(customer_id) if customer_id not in (0, "0", "") else "",
            billing=billing,
            shipping=shipping if any((shipping.street, shipping.city, shipping.name)) else billing,
        )

    def refunds(self, detailed: list[dict[str, Any]] | None) -> tuple[Refund, ...]:
        if detailed is not None:
            return tuple(self.refund(r, f"refunds[{i}].") for i, r in enumerate(detailed))
        summaries = self.items("refunds")
        return tuple(
            Refund(
                refund_id=str(self.field(item, "id", f"refunds[{i}].", (int, str))),
                amount=abs(self.money(item, "total", f"refunds[{i}].")),
                reason=self.text(item, "reason", f"refunds[{i}]."),
            )
            for i, item in enumerate(summaries)
        )

    def refund(self, item: Any, path: str) -> Refund:
        """One refund object: its returned products, and the shipping and fees it gave back
        (`shipping_lines`, `fee_lines`, which WooCommerce's refunds carry since 3.x), each
        at the VAT rate the order charged on it. Amounts come negative; kept positive here."""
        if not isinstance(item, dict):
            raise OrderInvalid(f"{path[:-1]} is {_show(item)}, expected an object")
        rates = self.tax_rates()
        returned = []
        for key, kind, name_key, default in _REFUNDED_LINES:
            lines = item.get(key) or []
            if not isinstance(lines, list):
                raise OrderInvalid(f"{path}{key} is {_show(lines)}, expected a list")
            for index, line in enumerate(lines):
                line_path = f"{path}{key}[{index}]."
                if not isinstance(line, dict):
                    raise OrderInvalid(f"{line_path[:-1]} is {_show(line)}, expected an object")
                returned.append(self.refunded_line(line, line_path, rates, kind, self.text(line, name_key, line_path) or default))
        created_at = self.local_time("date_created", required=False, obj=item, path=path)
        return Refund(
            refund_id=str(self.field(item, "id", path, (int, str))),
            amount=abs(self.money(item, "amount", path)),
            reason=self.text(item, "reason", path),
            created=created_at,
            lines=tuple(returned),
        )

    def refunded_line(self, line: dict[str, Any], path: str, rates: dict[str, Decimal | None], kind: LineKind,
                      text: str) -> Line:
        """A refund's line, positive. Its rate is the one the order charged (its `taxes`
        name the order's tax rates); derived from the amounts where the shop names none."""
        signed_net = self.money(line, "total", path)
        signed_vat = self.money(line, "total_tax", path, "0")
        net, vat = abs(signed_net), abs(signed_vat)
        quantity = Decimal(1)
        if kind is LineKind.PRODUCT:
            try:
                quantity = abs(parse_decimal(line.get("quantity", 1), f"{path}quantity")) or Decimal(1)
            except MoneyError as exc:
                raise OrderInvalid(str(exc)) from None
        rate = self.line_rate(line, path, rates, signed_net, signed_vat) if net and vat else ZERO
        return Line(
            kind=kind,
            text=text,
            sku=self.text(line, "sku", path) if kind is LineKind.PRODUCT else "",
            quantity=quantity,
            unit_net=unit_price(net, quantity),
            net=net,
            vat=vat,
            vat_rate=rate,
        )


# A refund's lists of lines: key, what they are, the key naming a line, the name without one.
_REFUNDED_LINES = (
    ("line_items", LineKind.PRODUCT, "name", ""),
    ("shipping_lines", LineKind.SHIPPING, "method_title", "Shipping"),
    ("fee_lines", LineKind.FEE, "name", "Fee"),
)


def unit_price(net: Decimal, quantity: Decimal) -> Decimal:
    """Net per unit to 4 decimals: the line's net stays the authority for totals."""
    if quantity == 0:
        return net
    return (net / quantity).quantize(Decimal("0.0001"))


def rate_code_country(code: str) -> str:
    """SE of `SE-MOMS-1`; empty for `MOMS-1` (a rate for every country) or a code of one part."""
    first, dash, _ = code.partition("-")
    return first if dash and vat_rules.is_country(first) else ""


def derive_rate(net: Decimal, vat_amount: Decimal) -> Decimal:
    """The VAT percent implied by rounded amounts; snapped to a rate in use in Europe
    (the maintained rates data, see iexsync.vat) when it is within the rounding error."""
    raw_rate = vat_amount / net * 100
    # Both amounts are rounded to the cent, so the true rate lies within this band.
    slack = (Decimal("0.005") / abs(net) + Decimal("0.005") / abs(net) * abs(raw_rate) / 100) * 100
    for known in vat_rules.rates_in_use():
        if abs(known - raw_rate) <= slack:
            return known
    return round_money(raw_rate, "USD")


def _first(values: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = values.get(key)
        if isinstance(value, (str, int)) and str(value).strip():
            return str(value).strip()
    return ""


def _meta_dict(meta: Any) -> dict[str, Any]:
    """WooCommerce's [{id, key, value}] as {key: value}; the last value of a key wins."""
    result: dict[str, Any] = {}
    for entry in meta or []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            result[entry["key"]] = entry.get("value")
    return result


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "a whole number", dict: "an object", list: "a list", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_lone_surrogates(value: Any) -> Any:
    """JSON's \\u escapes can carry half a surrogate pair, which no UTF-8 file, database or
    request body can hold: each becomes U+FFFD. (json.loads joins real pairs, so any
    surrogate left in a str is a lone one.) The common case costs one dumps."""
    text = json.dumps(value, ensure_ascii=False)
    if not _LONE_SURROGATE.search(text):
        return value
    return json.loads(_LONE_SURROGATE.sub("\ufffd", text))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
