"""Dinero's error bodies → one message a bookkeeper can act on.

The shape (../shared/vendor/dinero/README.md, "Limits and errors"): `{"code", "message",
"validationErrors": {"<field>": "<text>"}, "languageSpecificMessages", "errorMessageList"}`,
not every key always present, and an unknown path may answer an HTML page. A field such as
`ProductLines[2].AccountNumber` is named by the document line it came from ("line 3
(Shipping)") and, where a config key put the value there, that key.
"""

from __future__ import annotations

import re
from typing import Any

# Dinero's error codes [D-err, S].
NOT_FOUND = 40
UNAUTHORISED = 41
VALIDATION = 42
LIMIT_EXCEEDED = 43
NO_PRO = (48, 90)
TIMESTAMP_OUTDATED = 58
NO_RESULTS = 63
DELETED = 65
DUPLICATE = 72

# Request field (its last part) → the config key that set it.
CONFIG_HINTS = {
    "AccountNumber": "accounting.accounts",
    "DepositAccountNumber": "accounting.payments (deposit_account)",
    "PaymentConditionType": "accounting.payments (condition)",
    "PaymentConditionNumberOfDays": "accounting.payments (days)",
    "ContactGuid": "accounting.contacts",
    "Language": "accounting.language",
    "Description": "accounting.header",
}

_LINE = re.compile(r"^ProductLines\[(\d+)\]\.?(.*)$", re.IGNORECASE)


def error_code(body: Any) -> int | None:
    if isinstance(body, dict):
        code = body.get("code", body.get("Code"))
        try:
            return int(code)
        except (TypeError, ValueError):
            return None
    return None


def describe_rejection(body: Any, subject: str, status: int, line_labels: list[str] | None = None) -> str:
    """`subject` names what was sent ("the invoice draft for order 1001")."""
    if not isinstance(body, dict):
        return f"Dinero refused {subject} ({status}): no reason given"
    code = error_code(body)
    problems = [_one(str(field), str(text), line_labels or []) for field, text in _validation(body).items()]
    message = str(body.get("message") or body.get("Message") or "").strip()
    if not problems:
        problems = [message or "no reason given"]
    elif message and message.lower().rstrip(".") not in ("validation error", "validation failed") and not any(message in p for p in problems):
        problems.insert(0, message)
    suffix = f" (code {code})" if code is not None else f" ({status})"
    return f"Dinero refused {subject}{suffix}: " + "; ".join(problems)


def _validation(body: dict[str, Any]) -> dict[str, Any]:
    found = body.get("validationErrors") or body.get("ValidationErrors")
    if isinstance(found, dict):
        return {k: v for k, v in found.items() if not (k == "message" and v == body.get("message"))}
    listed = body.get("errorMessageList")
    if isinstance(listed, list):
        return {str(e.get("Code", "")): e.get("Message", "") for e in listed if isinstance(e, dict)}
    return {}


def _one(field: str, text: str, line_labels: list[str]) -> str:
    if field.lower() == "message":
        return text
    where = field
    line = _LINE.match(field)
    if line:
        index = int(line.group(1))
        label = line_labels[index] if index < len(line_labels) else f"line {index + 1}"
        where = f"{label} {line.group(2)}".strip()
    result = f"{where}: {text}"
    hint = CONFIG_HINTS.get(field.rsplit(".", 1)[-1])
    if hint:
        result += f"; check {hint}"
    return result
