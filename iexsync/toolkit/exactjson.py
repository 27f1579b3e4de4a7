"""Request bodies as JSON with money exact: Decimals written as numbers, floats refused."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def exact_json(value: Any, what: str, *, null: bool = True) -> str:
    """`value` as JSON for `what` (the vendor named in errors); `null=False` for an API that
    rejects null, so the caller must leave the property out."""
    if value is None:
        if null:
            return "null"
        raise ValueError(f"null is not accepted by {what}; leave the property out")
    if isinstance(value, (bool, str, int)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number {what} accepts")
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{exact_json(v, what, null=null)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(exact_json(v, what, null=null) for v in value) + "]"
    raise TypeError(f"cannot send a {type(value).__name__} to {what}")  # floats included
