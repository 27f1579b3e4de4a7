"""Dinero's tokens: fetched with the personal integration's grant, cached until shortly
before they expire, fetched anew at most once when the API answers 401.

Facts (../shared/vendor/dinero/README.md, "Auth"): POST to the token endpoint with
`Authorization: Basic base64(client_id:client_secret)` and the form
`grant_type=password&scope=read write&username=<API key>&password=<API key>`; the answer is
OAuth2 JSON with `access_token` and `expires_in` (3600). A refused grant is 400
`invalid_grant` (or 401). The token is never stored: one token request per run is cheap,
and a bearer token in the log would be a secret at rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from iexsync import errors
from iexsync.http import Client, json_body, strip_query
from iexsync.redaction import redact, register

WHAT = "Dinero"
# A token is renewed this long before Dinero says it expires, so no request carries one
# that expires on the way.
EXPIRY_MARGIN = 60.0

REJECTED = (
    "Dinero rejected the credentials ({detail}); check accounting.client_id and accounting.client_secret "
    "(the personal integration Dinero issued) and accounting.api_key (Dinero → Settings → Integrations: "
    "the organisation's API key, made by its owner)"
)


class TokenSource:
    def __init__(self, client: Client, url: str, client_id: str, client_secret: str, api_key: str,
                 clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.url = url
        self._form = {"grant_type": "password", "scope": "read write", "username": api_key, "password": api_key}
        self._auth = (client_id, client_secret)
        self._clock = clock
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # tokens fetched, for tests and the bench

    def token(self) -> str:
        with self._lock:
            if not self._token or self._clock() >= self._expires:
                self._fetch()
            return self._token

    def renew(self, rejected: str) -> str:
        """After a 401 for `rejected`: a new token, unless another thread already got one."""
        with self._lock:
            if self._token == rejected:
                self._fetch()
            return self._token

    def _fetch(self) -> None:
        try:
            response = self.client.request("POST", self.url, data=self._form, auth=self._auth)
        except errors.OutcomeUnknown as exc:
            raise errors.RemoteUnavailable(exc.message) from None  # a token request changes nothing
        status = response.status_code
        if status in (400, 401, 403):
            detail = _oauth_error(response) or f"{status} from {strip_query(response.url)}"
            raise errors.CredentialsRejected(redact(REJECTED.format(detail=detail)))
        if status >= 300:
            raise errors.RemoteUnavailable(redact(f"{WHAT}: the token endpoint answered {status}"))
        body = json_body(response, WHAT)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise errors.RemoteUnavailable(f"{WHAT}: the token endpoint answered without an access_token")
        register(token)  # never printed, logged or stored
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = token
        self._expires = self._clock() + max(0.0, lifetime - EXPIRY_MARGIN)
        self.fetched += 1


def _oauth_error(response: object) -> str:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[key]) for key in ("error", "error_description") if body.get(key)]
    return ": ".join(parts)
