"""Our own small schema of the request fields iexsync sends to Dinero, per operation.

The fake validates against Dinero's official OpenAPI document when ../shared/vendor/dinero is
present; without it (a fresh clone) it validates against this. `tests/test_dinero_fake.py`
holds this file to the official spec whenever that is present: every field here must exist
there with a compatible type, and every field the spec requires must be required here.
"""

from __future__ import annotations

from typing import Any

UUID = {"type": "string", "format": "uuid"}
TEXT = {"type": "string"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}

LINE = {
    "type": "object", "additionalProperties": False,
    "required": ["AccountNumber", "BaseAmountValue", "Discount", "Quantity"],
    "properties": {
        "ProductGuid": UUID, "Description": TEXT, "Quantity": NUMBER, "AccountNumber": INTEGER, "Unit": TEXT,
        "Discount": NUMBER, "LineType": TEXT, "BaseAmountValue": NUMBER,
    },
}
_DOCUMENT = {
    "Guid": UUID, "ContactGuid": UUID, "Currency": TEXT, "Language": TEXT,
    "ExternalReference": {"type": "string", "maxLength": 128}, "Description": TEXT, "Comment": TEXT, "Date": TEXT,
    "PaymentConditionType": TEXT, "PaymentConditionNumberOfDays": INTEGER, "ShowLinesInclVat": BOOLEAN,
    "Address": TEXT, "ProductLines": {"type": "array", "items": LINE},
}
_CREDIT_NOTE = {k: v for k, v in _DOCUMENT.items() if not k.startswith("PaymentCondition")}
_BOOK = {"required": ["Timestamp"], "properties": {"Timestamp": {"type": "string", "minLength": 1}}}

# spec path → method → {required, properties}: the same keys as the official document's paths.
OPERATIONS: dict[str, dict[str, dict[str, Any]]] = {
    "/v1/{organizationId}/contacts": {"post": {
        "required": ["CountryKey", "IsMember", "IsPerson", "Name", "UseCvr"],
        "properties": {
            "ContactGuid": UUID, "ExternalReference": {"type": "string", "maxLength": 128},
            "Name": {"type": "string", "minLength": 1}, "Street": TEXT, "ZipCode": TEXT, "City": TEXT,
            "CountryKey": {"type": "string", "minLength": 1}, "Phone": TEXT, "Email": TEXT, "AttPerson": TEXT,
            "VatNumber": TEXT, "EanNumber": TEXT, "IsPerson": BOOLEAN, "IsMember": BOOLEAN, "UseCvr": BOOLEAN,
        },
    }},
    "/v1/{organizationId}/products": {"post": {
        "required": ["AccountNumber", "BaseAmountValue", "Quantity", "Unit"],
        "properties": {
            "ProductNumber": TEXT, "Name": TEXT, "BaseAmountValue": NUMBER, "Quantity": NUMBER, "AccountNumber": INTEGER,
            "Unit": {"type": "string", "minLength": 1}, "ExternalReference": {"type": "string", "maxLength": 128},
        },
    }},
    "/v1/{organizationId}/invoices": {"post": {"required": ["ProductLines"], "properties": _DOCUMENT}},
    "/v1.2/{organizationId}/invoices/{guid}": {"put": {
        "required": ["ProductLines", "Timestamp"], "properties": {**_DOCUMENT, "Timestamp": {"type": "string", "minLength": 1}},
    }},
    "/v1/{organizationId}/invoices/{guid}/book": {"post": _BOOK},
    "/v1/{organizationId}/invoices/{guid}": {"delete": {"required": [], "properties": {"Timestamp": TEXT}}},
    "/v1/{organizationId}/sales/creditnotes/{guid}": {"delete": {"required": [], "properties": {"Timestamp": TEXT}}},
    "/v1/{organizationId}/invoices/{guid}/payments": {"post": {
        "required": ["Amount", "DepositAccountNumber", "Description", "RemainderIsFee", "Timestamp"],
        "properties": {
            "Timestamp": {"type": "string", "minLength": 1}, "DepositAccountNumber": INTEGER, "RemainderIsFee": BOOLEAN,
            "ExternalReference": {"type": "string", "maxLength": 128}, "PaymentDate": TEXT,
            "Description": {"type": "string", "minLength": 1}, "Amount": NUMBER, "AmountInForeignCurrency": NUMBER,
        },
    }},
    "/v1/{organizationId}/sales/creditnotes": {"post": {
        "required": ["ProductLines"], "properties": {**_CREDIT_NOTE, "CreditNoteFor": UUID},
    }},
    "/v1.2/{organizationId}/sales/creditnotes/{guid}": {"put": {
        "required": ["ProductLines", "Timestamp"],
        "properties": {**_CREDIT_NOTE, "CreditNoteFor": UUID, "Timestamp": {"type": "string", "minLength": 1}},
    }},
    "/v1/{organizationId}/sales/creditnotes/{guid}/book": {"post": _BOOK},
    "/v2/{organizationId}/contacts/{guid}": {"put": {
        "required": ["CountryKey", "IsMember", "IsPerson", "Name", "UseCvr"],
        "properties": {
            "Name": {"type": "string", "minLength": 1}, "Street": TEXT, "ZipCode": TEXT, "City": TEXT,
            "CountryKey": {"type": "string", "minLength": 1}, "Phone": TEXT, "Email": TEXT, "VatNumber": TEXT,
            "EanNumber": TEXT, "IsPerson": BOOLEAN, "IsMember": BOOLEAN, "UseCvr": BOOLEAN,
            "ExternalReference": {"type": "string", "maxLength": 128},
        },
    }},
}


def request_schema(spec_path: str, method: str) -> dict[str, Any]:
    operation = OPERATIONS[spec_path][method]
    return {"type": "object", "additionalProperties": False, **operation}
