"""The fake e-conomic answers like the vendor docs say: auth, validation, paging, filters, booking, VAT.

Plain HTTP against the fake, no connector: later tests and benchmarks trust the fake,
so its own behaviour is pinned here, with the vendor's example bodies where there are any.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from tests.fakes.economic import AGREEMENT_GRANT_TOKEN, APP_SECRET_TOKEN, SCHEMA_DIR, FakeEconomic
from tests.fakes.server import FakeServer
from tests.test_economic_support import economic_server, fake, plug  # noqa: F401 - fixtures
from tests.vendor import needs_vendor

EXAMPLES = SCHEMA_DIR / "examples"
HEADERS = {"X-AppSecretToken": APP_SECRET_TOKEN, "X-AgreementGrantToken": AGREEMENT_GRANT_TOKEN, "Content-Type": "application/json"}


class Api:
    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(self.url + path, headers=HEADERS, params=params, timeout=5)

    def send(self, method: str, path: str, body) -> requests.Response:
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return requests.request(method, self.url + path, headers=HEADERS, data=data, timeout=5)


def decimal_json(response: requests.Response):
    return json.loads(response.content, parse_float=Decimal)


@pytest.fixture
def api(fake: FakeEconomic, economic_server: FakeServer) -> Api:
    return Api(economic_server.url)


def draft_body(**overrides):
    body = {
        "date": "2026-02-01", "currency": "DKK", "customer": {"customerNumber": 1}, "layout": {"layoutNumber": 19},
        "paymentTerms": {"paymentTermsNumber": 1}, "recipient": {"name": "Jens Madsen", "vatZone": {"vatZoneNumber": 1}},
        "references": {"other": "ref-1"},
        "lines": [{"product": {"productNumber": "P1"}, "description": "Lamp", "quantity": 2, "unitNetPrice": 100.5}],
    }
    body.update(overrides)
    return body


def test_wrong_or_missing_tokens_get_401_with_a_demo_link(fake: FakeEconomic, api: Api) -> None:
    missing = requests.get(api.url + "/customers", timeout=5)
    wrong = requests.get(api.url + "/customers", headers={**HEADERS, "X-AgreementGrantToken": "nope"}, timeout=5)
    assert missing.status_code == wrong.status_code == 401
    assert wrong.json()["demoLink"].endswith("/customers?demo=true")
    assert fake.count("GET /customers") == 2


def test_a_resource_outside_the_grant_is_403(economic_server: FakeServer) -> None:
    plug(economic_server, FakeEconomic(forbidden=["/invoices/booked"]))
    assert Api(economic_server.url).get("/invoices/booked").status_code == 403
    assert Api(economic_server.url).get("/invoices/drafts").status_code == 200


@needs_vendor("economic", "examples", "invoices.drafts.post.request.json")
def test_the_vendor_example_bodies_are_accepted(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.layouts[5] = {"layoutNumber": 5, "name": "Example"}
    fake.units.update({2: {"unitNumber": 2, "name": "Tim"}, 4: {"unitNumber": 4, "name": "Kg"}})
    product = api.send("POST", "/products", (EXAMPLES / "products.post.request.json").read_text())
    fake.add_product("50", group=1)
    draft = api.send("POST", "/invoices/drafts", (EXAMPLES / "invoices.drafts.post.request.json").read_text())
    order = api.send("POST", "/orders/drafts", (EXAMPLES / "orders.drafts.post.request.json").read_text())
    booked = api.send("POST", "/invoices/booked", (EXAMPLES / "invoices.booked.post.request.json").read_text())
    assert [product.status_code, draft.status_code, order.status_code, booked.status_code] == [201, 201, 201, 201]
    assert draft.headers["Location"].endswith("/invoices/drafts/1")
    created = decimal_json(draft)
    # The example's read-only totals are ignored and recomputed: 3 × 10.00 at 25 % in the domestic zone.
    assert (created["netAmount"], created["vatAmount"], created["grossAmount"]) == (Decimal("30.00"), Decimal("7.50"), Decimal("37.50"))
    assert decimal_json(booked)["bookedInvoiceNumber"] == 1


def test_every_write_is_validated_and_errors_mirror_the_request(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1")
    body = draft_body(currency=None, recipient={"vatZone": {"vatZoneNumber": 1}})
    body["lines"] = [
        {"product": {"productNumber": "P1"}, "quantity": 1, "unitNetPrice": 10.12345},
        {"product": {"productNumber": "NOPE"}, "quantity": 1, "unitNetPrice": 1},
        {"product": {}, "quantity": 1, "unitNetPrice": 1},
    ]
    response = api.send("POST", "/invoices/drafts", body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["message"] == "Validation error." and answer["httpStatusCode"] == 400 and answer["logId"]
    errors = answer["errors"]
    assert "currency" in errors  # null refused
    assert errors["recipient"]["name"]["errors"][0]["message"] == "Property name is required."
    lines = {line["arrayIndex"]: line for line in errors["lines"]}
    assert lines[0]["unitNetPrice"]["errors"][0]["errorCode"] == "E04740"
    assert lines[1]["product"]["errors"][0] == {
        "errorCode": "E06000", "message": "product does not exist.", "value": "NOPE",
        "developerHint": "Find a list of products at https://restapi.e-conomic.com/products.",
    }
    assert lines[2]["product"]["errors"][0]["errorCode"] == "E04500"
    assert fake.drafts == {}


def test_maxlength_and_types_come_from_the_write_schemas(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1")
    response = api.send("POST", "/invoices/drafts", draft_body(references={"other": "x" * 251}, date=20260201))
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert "references" in errors and "date" in errors


def test_a_non_json_body_is_415_and_patch_is_405(api: Api) -> None:
    text = requests.post(api.url + "/customers", headers={**HEADERS, "Content-Type": "text/plain"}, data="x", timeout=5)
    patch = requests.patch(api.url + "/customers/1", headers=HEADERS, data="{}", timeout=5)
    put_collection = api.send("PUT", "/invoices/drafts", {})
    assert (text.status_code, patch.status_code, put_collection.status_code) == (415, 405, 405)


def test_booking_deletes_the_draft_and_numbers_the_invoice(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1")
    first = api.send("POST", "/invoices/drafts", draft_body()).json()
    second = api.send("POST", "/invoices/drafts", draft_body(references={"other": "ref-2"})).json()
    assert (first["draftInvoiceNumber"], second["draftInvoiceNumber"]) == (1, 2)
    booked = api.send("POST", "/invoices/booked", {"draftInvoice": {"self": second["self"]}, "bookWithNumber": 7})
    assert booked.status_code == 201 and booked.headers["Location"].endswith("/invoices/booked/7")
    invoice = decimal_json(booked)
    assert invoice["bookedInvoiceNumber"] == 7 and invoice["references"]["other"] == "ref-2"
    assert invoice["remainder"] == invoice["grossAmount"] == Decimal("251.25")
    assert list(fake.drafts) == [1] and list(fake.booked) == [7]
    again = api.send("POST", "/invoices/booked", {"draftInvoice": {"draftInvoiceNumber": 2}})
    assert again.status_code == 400 and again.json()["errors"]["draftInvoice"]["errors"][0]["errorCode"] == "E06000"
    assert api.send("POST", "/invoices/booked", {"draftInvoice": {"draftInvoiceNumber": 1}}).json()["bookedInvoiceNumber"] == 8


def test_vat_follows_zone_and_product_group(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1", group=1)
    fake.add_product("FREE", group=2)
    lines = [
        {"product": {"productNumber": "P1"}, "quantity": 3, "unitNetPrice": 33.33},
        {"product": {"productNumber": "FREE"}, "quantity": 1, "unitNetPrice": 299},
    ]
    totals = {}
    for zone in (1, 2, 3, 4):
        answer = decimal_json(api.send("POST", "/invoices/drafts", draft_body(lines=lines, recipient={"name": "X", "vatZone": {"vatZoneNumber": zone}})))
        totals[zone] = (answer["netAmount"], answer["vatAmount"], answer["grossAmount"])
    assert totals[1] == (Decimal("398.99"), Decimal("25.00"), Decimal("423.99"))
    assert totals[2] == totals[3] == totals[4] == (Decimal("398.99"), Decimal("0.00"), Decimal("398.99"))


def test_put_replaces_the_whole_draft(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1")
    api.send("POST", "/invoices/drafts", draft_body())
    replaced = api.send("PUT", "/invoices/drafts/1", draft_body(lines=[{"product": {"productNumber": "P1"}, "quantity": 1, "unitNetPrice": 8}]))
    assert replaced.status_code == 200 and decimal_json(replaced)["grossAmount"] == Decimal("10.00")
    assert len(fake.drafts[1]["lines"]) == 1
    assert api.send("PUT", "/invoices/drafts/9", draft_body()).status_code == 404


def test_pages_of_at_most_1000(fake: FakeEconomic, api: Api) -> None:
    for number in range(1, 26):
        fake.add_customer(customerNumber=number)
    first = api.get("/customers", pagesize=10).json()
    last = api.get("/customers", pagesize=10, skippages=2).json()
    assert [c["customerNumber"] for c in first["collection"]] == list(range(1, 11))
    assert first["pagination"]["results"] == 25 and "skippages=1" in first["pagination"]["nextPage"]
    assert len(last["collection"]) == 5 and "nextPage" not in last["pagination"]
    assert len(api.get("/customers").json()["collection"]) == 20  # the default page
    assert api.get("/customers", pagesize=1001).status_code == 400


def test_filters_with_escapes_logic_and_case(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1, name="Joe", email="Joe@Example.com", city="Newport")
    fake.add_customer(customerNumber=2, name="Ann (DK), $1*", email="ann@example.com", city="Aarhus")
    fake.add_customer(customerNumber=3, name="Bo", city="Stockport")

    def numbers(expression: str) -> list[int]:
        response = api.get("/customers", filter=expression)
        assert response.status_code == 200, response.text
        return [c["customerNumber"] for c in response.json()["collection"]]

    assert numbers("email$eq:joe@example.com") == [1]
    assert numbers("name$eq:Ann $(DK$)$, $$1$*") == [2]
    assert numbers("city$like:*port") == [1, 3]
    assert numbers("city$like:ar") == [2]  # no wildcard: contains
    assert numbers("name$eq:Joe$and:(city$like:*port$or:customerNumber$lt:2)") == [1]
    assert numbers("name$eq:Bo$or:name$eq:Joe$and:city$eq:Aarhus") == [3]  # $and binds tighter [ours]
    assert numbers("customerNumber$in:[1,3]") == [1, 3]
    assert numbers("email$eq:$null:") == [3]
    refused = api.get("/customers", filter="mobilePhone$eq:1")
    assert refused.status_code == 400
    assert refused.json()["errors"] == ["Filtering is not allowed on property 'mobilePhone'."]
    assert "email" in refused.json()["allowedFilteringFields"]


def test_references_other_is_filterable_on_drafts_booked_and_orders(fake: FakeEconomic, api: Api) -> None:
    fake.add_customer(customerNumber=1)
    fake.add_product("P1")
    api.send("POST", "/invoices/drafts", draft_body(references={"other": "iexsync:woo:1:invoice"}))
    api.send("POST", "/orders/drafts", draft_body(references={"other": "iexsync:woo:2:order"}))
    for path, expected in (("/invoices/drafts", 1), ("/orders/drafts", 1), ("/invoices/booked", 0)):
        found = api.get(path, filter="references.other$eq:iexsync:woo:1:invoice$or:references.other$eq:iexsync:woo:2:order").json()
        assert len(found["collection"]) == expected
        assert all("lines" not in item for item in found["collection"])  # collections list no lines


def test_product_numbers_use_the_self_link_encoding(fake: FakeEconomic, api: Api) -> None:
    # The docs' own example, "My Awesome Product_Discount5%", is longer than the 25 characters allowed.
    body = {"productNumber": "Awesome Product_Disc5%", "name": "x", "productGroup": {"productGroupNumber": 1}}
    created = api.send("POST", "/products", body)
    assert created.headers["Location"].endswith("/products/Awesome_9_Product_8_Disc5_3_")
    assert api.get("/products/Awesome_9_Product_8_Disc5_3_").json()["productNumber"] == "Awesome Product_Disc5%"
    assert api.get("/products/nope").status_code == 404
    assert api.send("POST", "/products", body).status_code == 400  # a product number is unique
    too_long = api.send("POST", "/products", {**body, "productNumber": "My Awesome Product_Discount5%"})
    assert too_long.status_code == 400 and "productNumber" in too_long.json()["errors"]


def test_rate_limit_answers_429_with_retry_after(economic_server: FakeServer) -> None:
    plug(economic_server, FakeEconomic(rate_limit=(3, 60.0)))
    api = Api(economic_server.url)
    statuses = [api.get("/layouts").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(api.get("/layouts").headers["Retry-After"]) >= 1


def test_serve_runs_the_fake_on_its_own_loopback_port() -> None:
    with FakeEconomic().serve() as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert Api(server.url).get("/self").status_code == 200
