"""What a merchant sees when WooCommerce (or what stands in front of it) says no."""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator

import pytest

from iexsync import errors
from iexsync.engine import changed_orders
from iexsync.http import check_transport
from iexsync.shops.woocommerce import WooCommerceShop
from tests.fakes.server import Fault, Recorded
from tests.fakes.tls import PrivateCA, https_woo_server
from tests.fakes.woocommerce import API, FakeWooCommerce, WooServer


@pytest.fixture
def fake(server: WooServer) -> FakeWooCommerce:
    fake = server.use(FakeWooCommerce())
    fake.load_vendor_examples()
    return fake


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> PrivateCA:
    return PrivateCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def https_server(ca: PrivateCA) -> Iterator[WooServer]:
    """The keys' own paths (Basic, query_string_auth) exist over HTTPS only, as in WooCommerce."""
    with https_woo_server(ca) as running:
        yield running


@pytest.fixture
def https_fake(https_server: WooServer) -> FakeWooCommerce:
    fake = https_server.use(FakeWooCommerce())
    fake.load_vendor_examples()
    return fake


def connect(fake: FakeWooCommerce, server: WooServer, **overrides) -> WooCommerceShop:
    """A connector with quick retries: the policy is http.Client's, the pauses are shortened."""
    if server.url.startswith("https:"):
        overrides.setdefault("ca_bundle", str(server.ca.bundle))  # type: ignore[attr-defined]
    section = fake.shop_config(server, **{k: v for k, v in overrides.items() if k not in ("retries", "backoff")})
    section.pop("platform")
    return WooCommerceShop(
        section.pop("url"), section.pop("consumer_key"), section.pop("consumer_secret"),
        retries=overrides.get("retries", 4), backoff=overrides.get("backoff", 0.01), **section,
    )


def pull(shop: WooCommerceShop) -> list:
    """The changed orders as a run reads them: the engine decides the failures' scope."""
    return list(changed_orders(shop, None))


# --- credentials ----------------------------------------------------------------------------
def test_a_wrong_secret_is_rejected_with_exit_77(https_fake, https_server) -> None:
    fake, server = https_fake, https_server
    shop = connect(fake, server, consumer_secret="cs_wrong_wrong_wrong")
    with pytest.raises(errors.CredentialsRejected) as caught:
        pull(shop)
    message = str(caught.value)
    assert caught.value.exit_code == 77
    assert message.startswith("WooCommerce rejected the API keys (read access needed)")
    assert "401 woocommerce_rest_authentication_error: Consumer secret is invalid." in message
    assert "WooCommerce → Settings → Advanced → REST API" in message
    assert len(server.requests) == 1  # a 401 is not retried


def test_a_key_without_read_permission_is_told_so(fake, server) -> None:
    fake.key_permissions = "write"
    with pytest.raises(errors.CredentialsRejected, match="does not have read permissions"):
        pull(connect(fake, server))


def test_a_server_that_drops_the_authorization_header_suggests_query_string_auth(https_fake, https_server) -> None:
    fake, server = https_fake, https_server
    fake.drop_authorization_header = True
    with pytest.raises(errors.CredentialsRejected) as caught:
        pull(connect(fake, server))
    assert "woocommerce_rest_cannot_view: Sorry, you cannot list resources." in str(caught.value)
    assert "set query_string_auth: true" in str(caught.value)
    # ...and the fallback works there: the keys go in the query, no Authorization header.
    orders = pull(connect(fake, server, query_string_auth=True))
    assert len(orders) == 4
    last = server.requests[-1]
    assert "consumer_key=" in last.query and "Authorization" not in last.headers


def test_a_user_who_may_not_see_orders_gets_403_with_what_to_do(fake, server) -> None:
    fake.user_can_view_orders = False
    with pytest.raises(errors.CredentialsRejected, match="403 woocommerce_rest_cannot_view.*shop manager or administrator"):
        pull(connect(fake, server))


def test_a_firewall_page_is_not_blamed_on_the_keys(fake, server) -> None:
    fake.html_mode = "blocked"
    with pytest.raises(errors.CredentialsRejected) as caught:
        pull(connect(fake, server))
    message = str(caught.value)
    assert "403 with an HTML page titled 'Your access to this site has been limited'" in message
    assert "security plugin or a firewall" in message and "check consumer_key" not in message


# --- where the API is, and what it accepts ---------------------------------------------------
def test_no_route_says_the_rest_api_was_not_found_and_points_at_permalinks(fake, server) -> None:
    fake.woocommerce_active = False
    with pytest.raises(errors.ConfigError) as caught:
        pull(connect(fake, server))
    message = str(caught.value)
    assert caught.value.exit_code == 78
    assert f"the WooCommerce REST API was not found at {server.url}/wp-json/wc/v3" in message
    assert "rest_no_route" in message and "Settings → Permalinks" in message


def test_plain_permalinks_give_an_html_404_with_the_same_advice(fake, server) -> None:
    fake.pretty_permalinks = False
    with pytest.raises(errors.ConfigError, match=r"(?s)not found.*HTML page titled 'Page not found'.*Settings → Permalinks"):
        pull(connect(fake, server))


def test_a_url_given_with_the_api_path_or_a_trailing_slash_works(fake, server) -> None:
    assert len(pull(connect(fake, server, url=server.url + "/wp-json/wc/v3/"))) == 4
    assert len(pull(connect(fake, server, url=server.url + "/wp-json"))) == 4


def test_a_page_size_above_the_sites_cap_is_explained(fake, server) -> None:
    fake.per_page_cap = 50  # a site that lowered WordPress's cap
    with pytest.raises(errors.ConfigError) as caught:
        pull(connect(fake, server))
    assert "shop.per_page: the shop refuses 100 orders per page" in str(caught.value)
    assert "per_page must be between 1 (inclusive) and 50 (inclusive)" in str(caught.value)
    assert "set shop.per_page: 50" in str(caught.value)
    assert len(pull(connect(fake, server, per_page=50))) == 4


@pytest.mark.parametrize("per_page", [1, 101])
def test_a_page_size_out_of_range_is_a_config_error(fake, server, per_page) -> None:
    with pytest.raises(errors.ConfigError, match="per_page"):
        connect(fake, server, per_page=per_page)


# --- HTML, outages, slowness -------------------------------------------------------------------
def test_an_html_page_instead_of_json_is_a_temporary_failure_that_says_why(fake, server) -> None:
    fake.html_mode = "challenge"
    with pytest.raises(errors.TemporaryFailure) as caught:
        pull(connect(fake, server))
    message = str(caught.value)
    assert caught.value.exit_code == 75
    assert "text/html; charset=UTF-8 instead of JSON" in message and "Just a moment..." in message
    assert "security plugin, maintenance mode or a proxy" in message


def test_maintenance_mode_is_retried_after_its_retry_after_then_named(fake, server) -> None:
    fake.html_mode, fake.maintenance_retry_after = "maintenance", 1
    started = time.monotonic()
    with pytest.raises(errors.TemporaryFailure) as caught:
        pull(connect(fake, server, retries=1))
    assert time.monotonic() - started >= 0.9  # Retry-After honoured
    assert len(server.requests) == 2
    assert "answered 503" in str(caught.value) and "HTML page titled 'Maintenance'" in str(caught.value)
    assert "the next one tries again" in str(caught.value)


def test_server_errors_on_reads_are_retried_with_backoff(fake, server) -> None:
    failures = iter([Fault("status", 503), Fault("status", 502, b"<html>Bad gateway</html>")])
    server.faults = lambda request: next(failures, None) if request.path == f"{API}/orders" else None
    assert len(pull(connect(fake, server))) == 4
    assert [r.status for r in server.calls("GET", f"{API}/orders") if r.path == f"{API}/orders"] == [503, 502, 200]


def test_server_errors_that_last_stop_the_run_without_moving_on(fake, server) -> None:
    server.faults = lambda request: Fault("status", 500, b'{"code":"internal_server_error","message":"Boom"}')
    with pytest.raises(errors.TemporaryFailure, match="answered 500"):
        pull(connect(fake, server, retries=2))
    assert len(server.requests) == 3


def test_a_timeout_is_retried(fake, server) -> None:
    hung: list[Recorded] = []

    def hang_once(request: Recorded) -> Fault | None:
        if not hung:
            hung.append(request)
            return Fault("hang")
        return None

    server.faults = hang_once
    started = time.monotonic()
    assert len(pull(connect(fake, server, timeout=0.3))) == 4
    assert 0.3 <= time.monotonic() - started < 5
    assert len(server.calls("GET", f"{API}/orders")) >= 2


def test_a_timeout_that_lasts_is_a_temporary_failure(fake, server) -> None:
    server.faults = lambda request: Fault("hang")
    # http.Client calls read timeouts that outlast the retries "could not connect": requests
    # reports them as a ConnectionError (see the report on iexsync/http.py).
    with pytest.raises(errors.TemporaryFailure, match="timed out|could not connect"):
        pull(connect(fake, server, timeout=0.2, retries=1))


def test_a_rate_limit_is_waited_out(fake, server) -> None:
    fake.rate_limit = (1, 1.0, 1)  # one request a second, then 429 with Retry-After: 1
    assert len(pull(connect(fake, server, per_page=2))) == 4  # two pages, quickly
    assert 429 in [r.status for r in server.requests]


def test_a_broken_connection_on_a_single_order_is_transient(fake, server) -> None:
    server.faults = lambda request: Fault("reset_before")
    with pytest.raises(errors.RemoteUnavailable) as caught:
        connect(fake, server, retries=1).get_order("727")
    assert caught.value.transient


# --- transport and secrets --------------------------------------------------------------------
def test_plain_http_to_another_host_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(errors.ConfigError, match="plain http, so the credentials would travel in clear"):
        WooCommerceShop("http://shop.example.com", "ck_" + "1" * 40, "cs_" + "2" * 40)
    WooCommerceShop("http://shop.example.com", "ck_" + "1" * 40, "cs_" + "2" * 40, allow_insecure_http=True).close()
    check_transport("https://shop.example.com/wp-json/wc/v3", allow_insecure_http=False, what="WooCommerce")


def test_swapped_keys_are_caught_at_start() -> None:
    with pytest.raises(errors.ConfigError, match="swapped"):
        WooCommerceShop("https://shop.example.com", "cs_" + "2" * 40, "ck_" + "1" * 40)


def test_secrets_never_appear_in_any_message(https_fake, https_server) -> None:
    fake, server = https_fake, https_server  # query_string_auth is for https only
    key, secret = "ck_" + "9f" * 20, "cs_" + "e7" * 20
    fake.consumer_key, fake.consumer_secret = key, secret
    texts = []

    def failure(**settings) -> None:
        with pytest.raises((errors.UserError, errors.OrderError)) as caught:
            shop = connect(fake, server, query_string_auth=True, consumer_key=key, consumer_secret=secret, **settings)
            pull(shop)
            shop.get_order("999")
        texts.append("".join(traceback.format_exception(caught.value)))

    fake.consumer_secret = "cs_other_other_other"
    failure()  # 401
    fake.consumer_secret = secret
    failure()  # get_order 404
    for mode in ("challenge", "maintenance", "blocked"):
        fake.html_mode, fake.maintenance_retry_after = mode, 0
        failure(retries=0)
    fake.html_mode = None
    fake.per_page_cap = 10
    failure()
    fake.per_page_cap, fake.woocommerce_active = 100, False
    failure()
    fake.woocommerce_active = True
    server.faults = lambda request: Fault("status", 500)
    failure(retries=0)
    server.faults = lambda request: Fault("hang")
    failure(retries=0, timeout=0.1)
    server.faults = lambda request: Fault("reset_before")
    failure(retries=0)
    server.faults = None
    failure(url="https://127.0.0.1:9", retries=0)  # nothing listens there
    assert len(texts) == 11
    for text in texts:
        assert key not in text and secret not in text, text
        assert "consumer_secret=" not in text


def test_secrets_never_reach_the_log(https_fake, https_server, caplog) -> None:
    fake, server = https_fake, https_server  # query_string_auth is for https only
    key, secret = "ck_" + "5d" * 20, "cs_" + "c3" * 20
    fake.consumer_key, fake.consumer_secret = key, secret
    hung: list[Recorded] = []
    server.faults = lambda request: None if hung else hung.append(request) or Fault("hang")
    with caplog.at_level("DEBUG"):
        pull(connect(fake, server, query_string_auth=True, consumer_key=key, consumer_secret=secret, timeout=0.2))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged and key not in logged
