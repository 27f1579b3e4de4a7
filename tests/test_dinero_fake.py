"""The fake Dinero behaves like the real API where iexsync depends on it, and our own schema of
the fields we send agrees with Dinero's official OpenAPI document (when it is present)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.fakes import dinero_fields
from tests.fakes.dinero import TOKEN_PATH, VENDOR_DIR, FakeDinero, request_validator, vendor_spec
from tests.vendor import needs_vendor
from tests.test_dinero_support import WINDOW, connect, dinero, dinero_server, plug  # noqa: F401

needs_spec = needs_vendor("dinero", "openapi.json")


def _types(schema: dict) -> set[str]:
    kind = schema.get("type", [])
    return set(kind if isinstance(kind, list) else [kind])


def _resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@needs_spec
@pytest.mark.parametrize(("path", "method"), [(p, m) for p, ms in dinero_fields.OPERATIONS.items() for m in ms])
def test_our_field_schema_agrees_with_the_official_spec(path: str, method: str) -> None:
    spec = vendor_spec()
    official = _resolve(spec, spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])
    ours = dinero_fields.OPERATIONS[path][method]
    assert set(official.get("required", [])) <= set(ours["required"]), "a field Dinero requires is not required here"
    for name, schema in ours["properties"].items():
        assert name in official["properties"], f"{name} is not in Dinero's {path} {method}"
        theirs = _resolve(spec, official["properties"][name])
        allowed = _types(theirs) | ({"integer"} if "number" in _types(theirs) else set())
        assert _types(schema) <= allowed, name
        if name == "ProductLines":
            line = _resolve(spec, theirs["items"])
            assert set(schema["items"]["properties"]) <= set(line["properties"])
            assert set(line["required"]) <= set(schema["items"]["required"])


@needs_spec
def test_our_example_bodies_in_the_vendor_folder_pass_the_fakes_validation() -> None:
    examples = {
        "ours.contacts.post.request.json": ("/v1/{organizationId}/contacts", "post"),
        "ours.products.post.request.json": ("/v1/{organizationId}/products", "post"),
        "ours.invoices.post.request.json": ("/v1/{organizationId}/invoices", "post"),
        "ours.invoices.put.request.json": ("/v1.2/{organizationId}/invoices/{guid}", "put"),
        "ours.invoices.book.request.json": ("/v1/{organizationId}/invoices/{guid}/book", "post"),
        "ours.invoices.payments.post.request.json": ("/v1/{organizationId}/invoices/{guid}/payments", "post"),
        "ours.sales.creditnotes.post.request.json": ("/v1/{organizationId}/sales/creditnotes", "post"),
    }
    for name, (path, method) in examples.items():
        body = json.loads((VENDOR_DIR / "examples" / name).read_text())
        assert list(request_validator(path, method).iter_errors(body)) == [], name
    wrong = {"ProductLines": [{"Description": "x", "Quantity": 1, "AccountNumber": "1000"}]}
    problems = [e.message for e in request_validator("/v1/{organizationId}/invoices", "post").iter_errors(wrong)]
    assert any("BaseAmountValue" in p for p in problems) and any("'1000' is not of type" in p for p in problems)


def _session(fake: FakeDinero, url: str) -> requests.Session:
    session = requests.Session()
    token = session.post(url + TOKEN_PATH, auth=(fake.client_id, fake.client_secret),
                         data={"grant_type": "password", "scope": "read write", "username": fake.api_key,
                               "password": fake.api_key}).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def test_lists_filter_page_and_pick_fields_as_the_real_api(dinero, dinero_server) -> None:
    for n in range(150):
        dinero.add_contact(Name=f"Buyer {n}", Email=f"buyer{n}@example.com")
    session = _session(dinero, dinero_server.url)
    url = f"{dinero_server.url}/v1/{dinero.organization_id}/contacts"
    first = session.get(url).json()
    assert len(first["Collection"]) == 100 and first["Pagination"]["Page"] == 0
    assert set(first["Collection"][0]) == {"name", "contactGuid"}  # the default fields, spelt that way
    second = session.get(url, params={"page": 1}).json()
    assert len(second["Collection"]) == 50 and second["Pagination"]["ResultWithoutFilter"] == 150
    found = session.get(url, params={"queryFilter": "Email eq 'BUYER7@example.com'", "fields": "ContactGuid,email"}).json()
    assert [set(c) for c in found["Collection"]] == [{"ContactGuid", "email"}]
    both = session.get(url, params={"queryFilter": "Name contains 'buyer 1';Email contains '12'", "pageSize": 1000}).json()
    assert {c["name"] for c in both["Collection"]} == {"Buyer 12", "Buyer 112", "Buyer 120", "Buyer 121", "Buyer 122",
                                                       "Buyer 123", "Buyer 124", "Buyer 125", "Buyer 126", "Buyer 127",
                                                       "Buyer 128", "Buyer 129"}
    assert session.get(url, params={"queryFilter": "buyer"}).status_code == 400
    assert session.get(url, params={"queryFilter": "Street eq 'x'"}).status_code == 400
    assert session.get(url, params={"pageSize": 1001}).status_code == 400


def test_unknown_documents_answer_400_code_63_and_unknown_contacts_404(dinero, dinero_server) -> None:
    session = _session(dinero, dinero_server.url)
    base = f"{dinero_server.url}/v1/{dinero.organization_id}"
    missing = "0f6b1e2a-0000-4000-8000-000000000001"
    answer = session.get(f"{base}/invoices/{missing}")
    assert answer.status_code == 400 and answer.json()["code"] == 63
    assert session.get(f"{base}/contacts/{missing}").status_code == 404
    assert session.get(f"{dinero_server.url}/v1/{dinero.organization_id}/nothing").headers["Content-Type"].startswith("text/html")


def test_the_rate_limit_answers_429_with_retry_after(dinero_server) -> None:
    fake = plug(dinero_server, FakeDinero(rate_limit=5, window=60))
    session = _session(fake, dinero_server.url)
    url = f"{dinero_server.url}/v1/{fake.organization_id}/vatTypes"
    statuses = [session.get(url).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = session.get(url)
    assert refused.text.startswith("API calls quota exceeded!") and int(refused.headers["Retry-After"]) >= 1


def test_the_connector_paces_itself_under_the_limit(dinero, dinero_server) -> None:
    books = connect(dinero_server)
    for _ in range(250):  # 2.5 windows' worth, as fast as the connector will send them
        books.check()
    assert dinero.count("GET /accounts/deposit") == 250
    assert dinero.rejected_429 == 0
    times = dinero.accepted_times
    busiest = max(sum(1 for t in times[i:] if t - start < WINDOW) for i, start in enumerate(times))
    assert 80 <= busiest <= 100  # near the limit, never over it
