"""How iexsync reaches a shop and the books: TLS it does not trust, and plain http.

Real TLS on loopback (a private CA made by trustme): a certificate the machine does not
trust is a configuration problem (exit 78) with `ca_bundle` offered, never an outage.
Plain http: WooCommerce takes keys only over HTTPS and OAuth 1.0a signatures otherwise, so
iexsync signs and never sends the secret; `query_string_auth` is refused there.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import yaml

from iexsync import errors
from iexsync.engine import changed_orders
from iexsync.shops.woocommerce import WooCommerceShop
from tests.conftest import REPO
from tests.fakes.economic import FakeEconomic
from tests.fakes.server import Fault, FakeServer
from tests.fakes.tls import PrivateCA, https_woo_server
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer
from tests.test_economic_support import DEMO_ORDERS, write_economic_config

ENV = {"WOO_KEY": "ck_" + "a1" * 20, "WOO_SECRET": "cs_" + "b2" * 20}


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> PrivateCA:
    return PrivateCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_server(ca: PrivateCA) -> Iterator[WooServer]:
    with https_woo_server(ca) as running:
        yield running


def shop(server: WooServer, fake: FakeWooCommerce, **options) -> WooCommerceShop:
    return WooCommerceShop(server.url, fake.consumer_key, options.pop("consumer_secret", fake.consumer_secret),
                           backoff=0.01, **options)


def config(folder: Path, server: WooServer, **shop_section) -> Path:
    tree = yaml.safe_load((REPO / "config.example.yaml").read_text())
    tree["shop"] = {"platform": "woocommerce", "url": server.url,
                    "consumer_key": "${WOO_KEY}", "consumer_secret": "${WOO_SECRET}", **shop_section}
    tree["log"] = {"path": str(folder / "iexsync.db")}
    tree["accounting"]["exchange_rates"] = {"home_currency": "USD"}  # the example shop sells in USD: its books' currency
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    path.chmod(0o600)
    return path


# --- TLS ---------------------------------------------------------------------------------------
def test_an_untrusted_certificate_is_a_config_problem_not_an_outage(tmp_path, tls_server, cli) -> None:
    fake = tls_server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    fake.load_vendor_examples()
    result = cli("sync", "--config", config(tmp_path, tls_server), env=ENV)
    assert result.exit_code == 78, result.output
    assert "certificate of 127.0.0.1" in result.output and "not trusted" in result.output
    assert "set shop.ca_bundle" in result.output and "could not connect" not in result.output
    assert tls_server.requests == []  # the handshake failed: nothing was sent


def test_the_shops_private_ca_is_trusted_through_shop_ca_bundle(tmp_path, tls_server, ca, cli, monkeypatch) -> None:
    fake = tls_server.use(FakeWooCommerce(ENV["WOO_KEY"], ENV["WOO_SECRET"]))
    fake.load_vendor_examples()
    shutil.copy(ca.bundle, tmp_path / "shop-ca.pem")
    # An environment that names another bundle does not override the configured one.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(REPO / "README.md"))
    result = cli("sync", "--config", config(tmp_path, tls_server, ca_bundle="shop-ca.pem"), env=ENV)
    assert result.exit_code == 0, result.output
    assert len(tls_server.calls("GET", f"{API}/orders")) >= 1
    # Over https the keys go as WooCommerce takes them there: HTTP Basic, no OAuth signature.
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in tls_server.requests)
    assert fake.oauth_requests == 0


def test_a_ca_bundle_that_does_not_vouch_for_the_certificate_says_so(tmp_path, tls_server) -> None:
    fake = tls_server.use(FakeWooCommerce())
    other = PrivateCA(tmp_path)  # another CA's bundle
    with pytest.raises(errors.ConfigError) as caught:
        list(shop(tls_server, fake, ca_bundle=str(other.bundle)).changed_orders(None))
    assert caught.value.exit_code == 78
    assert f"shop.ca_bundle ({other.bundle}) does not vouch for it" in str(caught.value)


def test_a_ca_bundle_that_is_not_a_certificate_stops_before_any_request(tmp_path, tls_server) -> None:
    fake = tls_server.use(FakeWooCommerce())
    with pytest.raises(errors.ConfigError, match="shop.ca_bundle: .* holds no PEM certificate"):
        shop(tls_server, fake, ca_bundle=str(REPO / "README.md"))
    with pytest.raises(errors.ConfigError, match="shop.ca_bundle: .* cannot be read"):
        shop(tls_server, fake, ca_bundle=str(tmp_path / "missing.pem"))


def test_e_conomic_behind_an_untrusted_certificate_offers_accounting_ca_bundle(tmp_path, ca, cli) -> None:
    shutil.copytree(DEMO_ORDERS, tmp_path / "orders")
    with ca.wrap(FakeServer(FakeEconomic())) as server:
        untrusted = cli("sync", "--config", write_economic_config(tmp_path, server.url))
        assert untrusted.exit_code == 78, untrusted.output
        assert "set accounting.ca_bundle" in untrusted.output and server.requests == []
        shutil.copy(ca.bundle, tmp_path / "books-ca.pem")
        trusted = cli("sync", "--config", write_economic_config(tmp_path, server.url, {"ca_bundle": "books-ca.pem"}))
        assert trusted.exit_code == 1, trusted.output  # the demo's order 1009 has a line without SKU
        assert server.calls("POST")


def test_over_https_a_wrong_secret_is_named_by_woocommerce(tls_server, ca) -> None:
    fake = tls_server.use(FakeWooCommerce())
    with pytest.raises(errors.CredentialsRejected, match="Consumer secret is invalid"):
        list(shop(tls_server, fake, consumer_secret="cs_wrong_wrong_wrong", ca_bundle=str(ca.bundle)).changed_orders(None))


# --- plain http --------------------------------------------------------------------------------
def test_a_plain_http_shop_is_signed_with_oauth_and_never_sees_the_secret(server) -> None:
    fake = server.use(FakeWooCommerce())
    fake.sees_https = False  # as WooCommerce over plain http: keys alone sign nobody in
    fake.load_vendor_examples()
    connector = shop(server, fake)
    orders = list(connector.changed_orders(None))
    refunds = connector.refunds(next(o for o in orders if o.refunds))
    assert len(orders) == 4 and len(refunds) == 2
    assert fake.oauth_requests == len(server.requests) == 2
    for request in server.requests:
        query = parse_qs(request.query)
        assert query["oauth_signature_method"] == ["HMAC-SHA256"] and query["oauth_consumer_key"] == [fake.consumer_key]
        assert fake.consumer_secret not in request.query and "Authorization" not in request.headers


def test_a_wrong_secret_over_http_fails_the_signature(server) -> None:
    fake = server.use(FakeWooCommerce())
    fake.sees_https = False
    with pytest.raises(errors.CredentialsRejected, match="Invalid signature - provided signature does not match"):
        list(shop(server, fake, consumer_secret="cs_wrong_wrong_wrong").changed_orders(None))


def test_query_string_auth_over_http_is_refused_before_anything_is_sent(server) -> None:
    fake = server.use(FakeWooCommerce())
    with pytest.raises(errors.ConfigError) as caught:
        shop(server, fake, query_string_auth=True)
    assert "would travel in clear and land in the web server's access log" in str(caught.value)
    assert "OAuth 1.0a" in str(caught.value) and fake.consumer_secret not in str(caught.value)
    assert server.requests == []


def test_a_read_retried_with_its_spent_nonce_is_a_temporary_failure(server) -> None:
    fake = server.use(FakeWooCommerce())
    fake.sees_https = False
    fake.load_vendor_examples()
    answered = []
    # The shop acts on the first request (and keeps its nonce), then the connection drops;
    # urllib3 sends the very same signed URL again.
    server.faults = lambda request: None if answered else answered.append(1) or Fault("reset_after")
    with pytest.raises(errors.TemporaryFailure, match="same OAuth nonce.*the next run signs afresh"):
        list(changed_orders(shop(server, fake), None))  # as a run reads them: the engine scopes the failure
    assert len(server.requests) == 2 and server.requests[0].query == server.requests[1].query
