"""The Shop protocol: small, so a new platform is a day's work.

A connector is constructed from its validated config section (`from_config`) and
declares the JSON Schema of that section in `CONFIG_SCHEMA` (the properties besides
`platform`); the config loader folds it into the one published schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, Union

from iexsync.model import Order


@dataclass(frozen=True)
class BrokenOrder:
    """An order the shop sent that cannot be read: logged as an error for it alone."""

    order_id: str
    error: str
    number: str = ""
    state: str = ""
    modified: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


ShopItem = Union[Order, BrokenOrder]


class Shop(Protocol):
    CONFIG_SCHEMA: ClassVar[dict[str, Any]]
    name: str  # the platform name, e.g. "woocommerce"

    @classmethod
    def from_config(cls, section: Mapping[str, Any], base_dir: Path) -> "Shop": ...

    def changed_orders(self, since: datetime | None) -> Iterator[ShopItem]:
        """Every order modified at or after `since` (all, if None), streamed, any state."""

    def get_order(self, order_id: str) -> ShopItem:
        """One order by the shop's id; raises OrderError if it cannot be fetched."""

    def states(self) -> list[tuple[str, int | None]]:
        """The shop's order states, with counts where the platform can tell."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether a webhook delivery is authentic (signature over the raw body)."""

    def close(self) -> None: ...
