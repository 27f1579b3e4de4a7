"""The Shop protocol: small, so a new platform is a day's work.

A connector is constructed from its validated config section (`from_config`) and
declares the JSON Schema of that section in `CONFIG_SCHEMA` (the properties besides
`platform`; a secret says `"writeOnly": true`, and is then never shown: logs, output,
errors); the config loader folds it into the one published schema. A shop that can
push orders also implements `WebhookSource`; one that cannot (a folder) implements nothing
of it, and `iexsync webhook serve|register` say so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Union, runtime_checkable

TYPE_CHECKING = False
if TYPE_CHECKING:  # an idle run lists orders without reading one into an Order
    from iexsync.model import Order, Refund


@dataclass(frozen=True)
class BrokenOrder:
    """An order the shop sent that cannot be read: logged as an error for it alone."""

    order_id: str
    error: str
    number: str = ""
    state: str = ""
    modified: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Unchanged:
    """A listed order exactly as it was when last decided (a shop's `skip_unchanged`): not
    read into an Order again, since deciding it again would only repeat what the log holds."""

    order_id: str
    modified: datetime | None = None
    number: str = ""
    state: str = ""


ShopItem = Union["Order", BrokenOrder, Unchanged]


@dataclass(frozen=True)
class WebhookDelivery:
    """What the receiver takes from a verified delivery: who sent it and which order it names.

    Nothing else in the body is trusted: the engine re-reads the order from the shop's API.
    """

    delivery_id: str  # the platform's delivery/event id: a replay of it is a duplicate
    order_id: str
    topic: str


class WebhookInvalid(ValueError):
    """A delivery that claims to be about an order but names none the receiver can use."""


class Shop(Protocol):
    CONFIG_SCHEMA: ClassVar[dict[str, Any]]
    name: str  # the platform name, e.g. "woocommerce"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "Shop": ...

    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Every order modified at or after `since` (all, if None), streamed, any state."""

    def get_order(self, order_id: str) -> ShopItem:
        """One order by the shop's id; raises OrderError if it cannot be fetched."""

    def refunds(self, order: Order) -> tuple[Refund, ...]:
        """The order's refunds in full, with the returned lines where the platform has them.

        `order.refunds` holds what the order itself says (id, amount, reason); the engine asks
        for the rest only for refunds not credited yet, so re-reading settled orders costs no
        extra call. Raises OrderError when they cannot be read: that order's error alone."""

    def states(self) -> list[tuple[str, int | None]]:
        """The shop's order states, with counts where the platform can tell."""

    def close(self) -> None: ...


@runtime_checkable
class WebhookSource(Protocol):
    """What a shop that pushes order changes implements besides `Shop`."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook delivery is authentic (signature over the raw body, compared in
        constant time). The receiver asks this before anything else."""

    def webhook_delivery(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery | None:
        """The order a delivery names; None when it is about something else (a product, a
        deleted order). Raises WebhookInvalid for an order topic without a usable order id.
        Only reads: the receiver also calls it on rejected deliveries, to log the order
        they claim to be about."""

    def is_webhook_ping(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether an unsigned request is the platform's handshake when a webhook is saved
        (answered 200, nothing else). False where the platform sends no such handshake."""

    def check_webhooks(self) -> None:
        """Raise ConfigError when deliveries cannot be verified as configured (no secret):
        the receiver refuses to start rather than refuse all."""

    def register_webhooks(self, url: str) -> list[dict[str, Any]]:
        """Create the shop's order webhooks (created, updated) for `url`, signed with the
        configured secret, replacing earlier ones for the same URL; what was done, one
        dict per webhook ({"topic", "id", "status", "replaced": [ids]})."""


def webhook_source(shop: Shop, platform: str) -> WebhookSource:
    """The shop as a webhook source, or a ConfigError saying this platform sends none."""
    if not isinstance(shop, WebhookSource):
        from iexsync.errors import ConfigError

        raise ConfigError([f"shop.platform: {platform} sends no webhooks; `iexsync sync` reads its orders"])
    return shop
