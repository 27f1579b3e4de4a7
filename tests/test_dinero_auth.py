"""Dinero's tokens: cached until shortly before expiry, renewed once on 401; a refused
grant and a missing Pro subscription are run-level errors that say what to do."""

from __future__ import annotations

import pytest

from iexsync import errors
from iexsync.books.dinero.auth import EXPIRY_MARGIN
from tests.fakes.dinero import FakeDinero
from tests.test_dinero_support import WINDOW, connect, dinero, dinero_server, plug  # noqa: F401


def test_one_token_serves_many_requests(dinero, dinero_server) -> None:
    books = connect(dinero_server)
    for _ in range(5):
        books.check()
    assert dinero.count("POST token") == 1
    assert dinero.count("GET /accounts/deposit") == 5


def test_an_expired_token_is_renewed_once_and_the_request_repeated(dinero, dinero_server) -> None:
    books = connect(dinero_server)
    books.check()
    dinero.expire_tokens()  # Dinero forgot it (expired early, revoked): the next call gets 401
    books.check()
    assert dinero.count("POST token") == 2
    assert dinero.count("GET /accounts/deposit") == 3  # the refused one, and its repeat


def test_a_token_is_renewed_shortly_before_it_expires(dinero_server) -> None:
    fake = plug(dinero_server, FakeDinero(window=WINDOW, token_lifetime=int(EXPIRY_MARGIN) + 1))
    books = connect(dinero_server)
    now = [1000.0]
    books.api.tokens._clock = lambda: now[0]
    books.check()
    now[0] += 0.5
    books.check()
    assert fake.count("POST token") == 1
    now[0] += 1.0  # within the margin of its expiry: not sent again
    books.check()
    assert fake.count("POST token") == 2
    assert fake.count("GET /accounts/deposit") == 3  # no request was refused


def test_a_refused_grant_is_exit_77_naming_the_keys(dinero_server) -> None:
    plug(dinero_server, FakeDinero(window=WINDOW, api_key="another-organisations-key"))
    books = connect(dinero_server)
    with pytest.raises(errors.CredentialsRejected) as caught:
        books.check()
    assert caught.value.exit_code == 77
    message = str(caught.value)
    assert message.startswith("Dinero rejected the credentials (invalid_grant")
    assert "accounting.api_key" in message


def test_a_token_still_refused_after_renewal_is_rejected_credentials(dinero, dinero_server) -> None:
    books = connect(dinero_server)
    books.check()
    dinero.token_lifetime = 0  # every token is dead on arrival
    dinero.expire_tokens()
    with pytest.raises(errors.CredentialsRejected, match="Dinero rejected the credentials"):
        books.check()
    assert dinero.count("POST token") == 2  # renewed once, not in a loop


def test_no_pro_subscription_says_so(dinero_server) -> None:
    plug(dinero_server, FakeDinero(window=WINDOW, pro=False))
    with pytest.raises(errors.CredentialsRejected) as caught:
        connect(dinero_server).check()
    assert "no Pro subscription" in str(caught.value) and "code 90" in str(caught.value)


def test_another_organisations_id_is_refused_with_the_key_to_check(dinero, dinero_server) -> None:
    with pytest.raises(errors.CredentialsRejected, match="organization_id"):
        connect(dinero_server, organization_id="999").check()
