"""How iexsync proves who it is to WooCommerce, by the shop's scheme.

WooCommerce (WC_REST_Authentication) takes the consumer key and secret as HTTP Basic or as
query parameters only when the request came over HTTPS (`is_ssl()`); over plain http it
ignores them and asks for OAuth 1.0a one-legged signatures instead (401 "Sorry, you cannot
list resources."). So:
- https: Basic (or, for servers that drop the Authorization header, `query_string_auth`);
- http: OAuth 1.0a, HMAC-SHA256, its parameters in the query string as WooCommerce's docs
  ask; the secret only keys the signature and never leaves this machine. `query_string_auth`
  is refused there: it would put the secret itself in the URL, in clear, in the server's
  access log. Signing is oauthlib's Client, imported only for http shops, and put on each
  request by `_OAuth1` (requests-oauthlib's OAuth1 for bodies that are not forms: its package
  imports all of oauthlib's OAuth 2 on the way, 6 ms of every run's start).
Plain http to a host other than this machine still needs `allow_insecure_http` (the orders
and the consumer key travel in clear): `http.check_transport` decides that.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from iexsync import errors


def credentials(url: str, consumer_key: str, consumer_secret: str, *, query_string_auth: bool) -> tuple[Any, dict[str, str] | None]:
    """(requests auth, query params) for the shop at `url`."""
    if urlsplit(url).scheme != "http":
        if query_string_auth:
            return None, {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        return requests.auth.HTTPBasicAuth(consumer_key, consumer_secret), None
    if query_string_auth:
        raise errors.ConfigError([
            "shop.query_string_auth puts the consumer secret in the URL; over plain http it would travel in clear "
            "and land in the web server's access log. Over http iexsync signs every request with OAuth 1.0a "
            "instead (WooCommerce's own way for http; the secret is never sent): remove query_string_auth, "
            "or use an https:// url"
        ])
    from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_QUERY, Client

    return _OAuth1(Client(consumer_key, client_secret=consumer_secret, signature_method=SIGNATURE_HMAC_SHA256,
                          signature_type=SIGNATURE_TYPE_QUERY)), None


class _OAuth1(requests.auth.AuthBase):
    """Signs each request's method and URL (the query carries the signature). Our requests
    have no body or a JSON one, which OAuth 1.0a leaves out of the signature."""

    def __init__(self, client: Any):
        self.client = client

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.url, headers, _ = self.client.sign(str(request.url), str(request.method), None, request.headers)
        request.prepare_headers(headers)
        return request


def oauth_refusal(where: str, said: str, message: str) -> errors.UserError | errors.OrderError | None:
    """WooCommerce's OAuth refusals that are not about the keys, as the error they are."""
    if "nonce has already been used" in message:
        # urllib3 retries a read with the very same signed URL after a 5xx or a timeout.
        return errors.RemoteUnavailable(
            f"{where} answered 401 {said}: a retried request carried the same OAuth nonce (WooCommerce keeps "
            "each one 15 minutes); the next run signs afresh")
    if "Invalid timestamp" in message:
        return errors.ConfigError([
            f"{where} answered 401 {said}: this machine's clock and the shop's differ by more than 15 minutes, "
            "and OAuth 1.0a signatures (used over http) carry the time: set both clocks right (NTP), or use https"])
    return None
