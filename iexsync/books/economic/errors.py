"""e-conomic's error bodies → one message a bookkeeper can act on.

A validation error (400) mirrors the request: each failing property holds
`{"errors": [{errorCode, message, value?, developerHint?}]}` and array members carry an
`arrayIndex` (e-conomic/slate @ f6bf5a4, `_introduction.md`, "Annotated errors"). We flatten
that tree to "line 2 (ABC-1): unit does not exist (value 10)" and name the config key
that sets the failing property, so the fix is one edit away.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Request property → the config key that put its value there.
CONFIG_HINTS = {
    "layout": "accounting.layout or accounting.payments",
    "paymentTerms": "accounting.payments or accounting.customers.payment_terms",
    "recipient.vatZone": "accounting.vat_zones or accounting.oss",
    "vatZone": "accounting.vat_zones",
    "customerGroup": "accounting.customers.customer_group",
    "productGroup": "accounting.products.product_groups",
    "customer": "accounting.customers",
}


def describe_rejection(body: Any, subject: str, status: int, line_labels: list[str] | None = None) -> str:
    """`subject` names what was sent ("the invoice draft for order 1001")."""
    problems = list(_problems(body, line_labels or []))
    if not problems:
        message = body.get("message") if isinstance(body, dict) else None
        hint = body.get("developerHint") if isinstance(body, dict) else None
        detail = "; ".join(str(p) for p in (message, hint) if p) or "no reason given"
        return f"e-conomic refused {subject} ({status}): {detail}"
    return f"e-conomic refused {subject}: " + "; ".join(problems)


def _problems(body: Any, line_labels: list[str]) -> Iterator[str]:
    if not isinstance(body, dict):
        return
    tree = body.get("errors")
    if isinstance(tree, list) and all(isinstance(e, str) for e in tree):  # e.g. a filter error
        yield from tree
        return
    for path, error in _walk(tree, []):
        yield _one(path, error, line_labels)


def _walk(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    if isinstance(node, list):
        for item in node:
            if isinstance(item, dict) and "arrayIndex" in item:
                yield from _walk(item, [*path, item["arrayIndex"]])
            elif isinstance(item, dict):
                yield path, item
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "arrayIndex":
            continue
        if key == "errors" and isinstance(value, list):
            for error in value:
                if isinstance(error, dict):
                    yield path, error
            continue
        yield from _walk(value, [*path, key])


def _one(path: list[Any], error: dict[str, Any], line_labels: list[str]) -> str:
    where = _where(path, line_labels)
    message = str(error.get("message") or error.get("errorCode") or "invalid")
    value = error.get("value")
    text = f"{where}: {message}" if where else message
    if value not in (None, ""):
        text += f" (value {value!r})" if not isinstance(value, str) else f" (value '{value}')"
    dotted = ".".join(str(p) for p in path if not isinstance(p, int))
    hint = CONFIG_HINTS.get(dotted)
    if hint and "does not exist" in message:
        text += f"; check {hint}"
    return text


def _where(path: list[Any], line_labels: list[str]) -> str:
    if len(path) >= 2 and path[0] == "lines" and isinstance(path[1], int):
        index = path[1]
        label = line_labels[index] if index < len(line_labels) else f"line {index + 1}"
        rest = ".".join(str(p) for p in path[2:])
        return f"{label} {rest}".strip()
    return ".".join(str(p) for p in path)
