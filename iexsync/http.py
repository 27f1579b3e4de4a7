"""One place for HTTP: sessions, timeouts, retries, rate limits, error classification.

Rules every connector gets by using this module:
- Reads (GET/HEAD) are retried with backoff on connection errors, 429 and 5xx, honouring
  Retry-After (urllib3's Retry does this). Writes are never retried blindly: a write
  whose answer never came raises `OutcomeUnknown`, which the engine resolves by lookup.
  A write answered 429 was refused, not done: with `write_retries_on_429` it is sent
  again after the server's Retry-After (one cap for reads and writes alike).
- Credentials never travel over plain http to a non-loopback host.
- A client-side rate limit keeps us under the API's documented limit instead of
  bouncing off 429s.
- Error messages name the method and URL with secrets redacted.
- A certificate the machine does not trust is a configuration problem (exit 78, with
  `ca_bundle` offered for private CAs), not an outage: it is neither retried nor
  reported as "could not connect".
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError, ReadTimeoutError, SSLError
from urllib3.util.retry import Retry

from iexsync import errors
from iexsync.redaction import redact

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read: seconds
# A server may ask for a long pause (WordPress maintenance says 600 s); a cron run waits at most this per retry.
MAX_RETRY_AFTER = 30.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRANSIENT_STATUSES = (429, 500, 502, 503, 504)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(url: str, *, allow_insecure_http: bool, what: str) -> None:
    """Refuse to send credentials in clear to anything but this machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.ConfigError([f"{what}: {url!r} is not an http(s) URL"])
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not allow_insecure_http:
        raise errors.ConfigError(
            [
                f"{what}: {url} uses plain http, so the credentials would travel in clear; "
                "use https (or set allow_insecure_http: true if you really must)"
            ]
        )


class _RedactingFilter(logging.Filter):
    """urllib3 logs the URLs it retries, query (credentials, for some shops) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(strip_urls(record.getMessage())), ()
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager", "urllib3.response"):
    logging.getLogger(_name).addFilter(_RedactingFilter())


class _Retry(Retry):
    """urllib3's Retry, with the server's Retry-After capped at MAX_RETRY_AFTER."""

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)

    def increment(self, *args: Any, **kwargs: Any) -> "Retry":
        # An untrusted certificate stays untrusted: retrying only delays the real message.
        error = kwargs.get("error")
        if isinstance(error, SSLError) and certificate_problem(error):
            raise error
        return super().increment(*args, **kwargs)


class RateLimiter:
    """At most `rate` requests a second as the server counts them, shared by the threads of
    one connector.

    Two rules. Requests are spaced 1/rate apart (a token bucket holding `burst`). And no
    more than floor(rate) requests may fall in one window (floor(rate)/rate seconds, one
    second for a whole rate) as the server sees it: a request's arrival there lies
    somewhere between the moment it was let go and the moment its answer came, so it
    counts from the first until a window after the second. Spacing alone lets a thread
    that was let go but not scheduled (a busy machine) arrive together with the ones
    after it, and a one-second window at the server then catches one too many: a 429.
    With the second rule that cannot happen, so the limit can be the API's own, not a
    margin below it; the window rule costs one answer's time per window."""

    def __init__(self, rate: float | None, burst: int = 1):
        self.rate = rate
        self.capacity = max(1, burst)
        self.tokens = float(self.capacity)
        self.updated = time.monotonic()
        self.allowed = max(1, int(rate)) if rate else 0  # requests per window
        self.window = self.allowed / rate if rate else 0.0
        self.in_flight = 0
        self.answered: deque[float] = deque()  # when each answer of the last window came, oldest first
        self.changed = threading.Condition()

    def acquire(self) -> None:
        """Wait until a request may go; the caller calls `done()` once its answer came (or failed)."""
        if not self.rate:
            return
        with self.changed:
            while True:
                now = time.monotonic()
                while self.answered and self.answered[0] <= now - self.window:
                    self.answered.popleft()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.in_flight + len(self.answered) >= self.allowed:
                    # Full: wait for the oldest answer to leave the window, or for one to come.
                    wait = self.answered[0] + self.window - now if self.answered else None
                elif self.tokens < 1:
                    wait = (1 - self.tokens) / self.rate
                else:
                    self.tokens -= 1
                    self.in_flight += 1
                    return
                self.changed.wait(wait)

    def done(self) -> None:
        if not self.rate:
            return
        with self.changed:
            self.in_flight -= 1
            self.answered.append(time.monotonic())
            self.changed.notify_all()


class _GuardedSession(requests.Session):
    """A session whose redirects keep our transport rules: requests drops Authorization
    when a redirect leaves the host, but keeps every other header (e-conomic's tokens) and
    the query (WooCommerce's fallback credentials), and follows https to plain http."""

    def __init__(self, what: str, allow_insecure_http: bool, sensitive: set[str]):
        super().__init__()
        self.what = what
        self.allow_insecure_http = allow_insecure_http
        self.sensitive = {name.lower() for name in sensitive}

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        super().rebuild_auth(prepared_request, response)
        target = urlsplit(prepared_request.url)
        try:
            check_transport(prepared_request.url, allow_insecure_http=self.allow_insecure_http, what=self.what)
        except errors.ConfigError:
            raise errors.RemoteRejected(
                f"{self.what}: {strip_query(response.url)} redirected to {strip_query(prepared_request.url)}, which is "
                "plain http: not followed, the credentials would travel in clear"
            ) from None
        if target.hostname != urlsplit(response.request.url).hostname:
            for name in list(prepared_request.headers):
                if name.lower() in self.sensitive:
                    del prepared_request.headers[name]
            if target.query and any(part.split("=")[0].lower() in self.sensitive for part in target.query.split("&")):
                prepared_request.prepare_url(f"{target.scheme}://{target.netloc}{target.path}", None)


class Client:
    """A requests session bound to one API's base URL, with our policies applied."""

    def __init__(
        self,
        base_url: str,
        *,
        what: str,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        params: Mapping[str, str] | None = None,
        allow_insecure_http: bool = False,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
        rate_limit: float | None = None,
        burst: int = 1,
        pool_size: int = 10,
        ca_bundle: str | None = None,
        ca_bundle_key: str = "ca_bundle",
        write_retries_on_429: int = 0,
    ):
        check_transport(base_url, allow_insecure_http=allow_insecure_http, what=what)
        self.base_url = base_url.rstrip("/")
        self.what = what
        # Passed with every request: a session-wide `verify` would lose to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = check_ca_bundle(ca_bundle, ca_bundle_key) if ca_bundle else True
        self.ca_bundle_key = ca_bundle_key
        self.timeout = timeout
        self.limiter = RateLimiter(rate_limit, burst)
        self.calls = 0  # requests sent, for benchmarks and the summary
        self.session = _GuardedSession(
            what, allow_insecure_http, sensitive={*(headers or {}), *(params or {})}
        )
        self.session.headers.update({"Accept": "application/json", "User-Agent": "iexsync"})
        self.session.headers.update(headers or {})
        self.session.auth = auth
        self.session.params = dict(params or {})
        retry = _Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff,
            backoff_max=30,
            status_forcelist=TRANSIENT_STATUSES,
            allowed_methods=SAFE_METHODS,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.retry = retry
        self.backoff = backoff
        self.write_retries_on_429 = write_retries_on_429
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; transport failures become OrderError subclasses.

        The response is returned whatever its status: the connector knows what its
        vendor's error bodies mean, and calls `raise_for_status` with its own reader.
        """
        method = method.upper()
        retries = 0 if method in SAFE_METHODS else self.write_retries_on_429  # reads: urllib3's Retry
        for attempt in range(retries + 1):
            response = self._send(method, path, kwargs)
            if response.status_code != 429 or attempt == retries:
                return response
            time.sleep(self.retry_after(response, attempt))
        raise AssertionError("unreachable")

    def retry_after(self, response: requests.Response, attempt: int) -> float:
        """The server's Retry-After (seconds or an HTTP date), capped at MAX_RETRY_AFTER;
        without one, the backoff for this attempt."""
        seconds = self.retry.get_retry_after(response)  # type: ignore[arg-type]  # reads .headers only
        return seconds if seconds is not None else min(MAX_RETRY_AFTER, self.backoff * 2**attempt)

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        self.limiter.acquire()
        self.calls += 1
        try:
            return self._transmit(method, url, kwargs)
        except requests.exceptions.ConnectTimeout as exc:
            raise errors.RemoteUnavailable(self._describe(method, url, "timed out connecting")) from _clean(exc)
        except requests.exceptions.SSLError as exc:
            problem = certificate_problem(exc)
            if problem:  # sent nowhere: the handshake failed before any request left
                raise errors.ConfigError([self._untrusted(url, problem)]) from None
            raise errors.RemoteUnavailable(self._describe(method, url, "TLS handshake failed")) from _clean(exc)
        except requests.exceptions.ConnectionError as exc:
            if _timed_out(exc):  # read timeouts surface as ConnectionError once retries run out
                if method in SAFE_METHODS:
                    raise errors.RemoteUnavailable(self._describe(method, url, "timed out")) from _clean(exc)
                raise errors.OutcomeUnknown(self._describe(method, url, "no answer in time")) from _clean(exc)
            if method not in SAFE_METHODS and not _never_sent(exc):
                raise errors.OutcomeUnknown(
                    self._describe(method, url, "connection broke before the answer came")
                ) from _clean(exc)
            raise errors.RemoteUnavailable(self._describe(method, url, "could not connect")) from _clean(exc)
        except requests.exceptions.Timeout as exc:
            if method in SAFE_METHODS:
                raise errors.RemoteUnavailable(self._describe(method, url, "timed out")) from _clean(exc)
            raise errors.OutcomeUnknown(self._describe(method, url, "no answer in time")) from _clean(exc)
        except requests.exceptions.RequestException as exc:
            if method not in SAFE_METHODS:
                # Sent, and the answer broke off (ChunkedEncodingError, ContentDecodingError...):
                # the server may well have acted.
                raise errors.OutcomeUnknown(self._describe(method, url, f"answer broke off ({type(exc).__name__})")) from _clean(exc)
            raise errors.RemoteUnavailable(self._describe(method, url, type(exc).__name__)) from _clean(exc)

    def _transmit(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        try:
            return self.session.request(method, url, **kwargs)
        finally:
            self.limiter.done()  # answered (or failed): the rate limit's window starts to let it go

    def _untrusted(self, url: str, problem: str) -> str:
        host = urlsplit(url).netloc
        if self.verify is not True:
            advice = f"{self.ca_bundle_key} ({self.verify}) does not vouch for it: check that it holds the CA that signed it"
        else:
            advice = (f"if the server uses a private CA, set {self.ca_bundle_key} to that CA's certificate (a PEM file); "
                      "otherwise the server's certificate needs fixing (expired, another name, or a missing "
                      "intermediate certificate)")
        return redact(f"{self.what}: the TLS certificate of {host} is not trusted by this machine ({problem}), "
                      f"so iexsync did not connect; {advice}")

    def _describe(self, method: str, url: str, what_happened: str) -> str:
        return redact(f"{self.what}: {method} {strip_query(url)} {what_happened}")

    def close(self) -> None:
        self.session.close()


_CERTIFICATE_DETAIL = (re.compile(r"certificate verify failed: ([^(\]'\"]+)"), re.compile(r"(hostname '[^']*' doesn't match[^\]'\"]*)"))


def certificate_problem(exc: BaseException) -> str:
    """What is wrong with the server's certificate, if that is why TLS failed ("" if not)."""
    text = str(exc)
    for pattern in _CERTIFICATE_DETAIL:
        found = pattern.search(text)
        if found:
            return found.group(1).strip()
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else ""


def check_ca_bundle(path: str, key: str) -> str:
    """A CA bundle that exists and holds a certificate; a config error otherwise."""
    bundle = Path(path).expanduser()
    try:
        text = bundle.read_text(errors="replace")
    except OSError as exc:
        raise errors.ConfigError([f"{key}: {path} cannot be read ({exc.strerror or exc})"]) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise errors.ConfigError([f"{key}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"])
    return str(bundle)


def strip_query(url: str) -> str:
    """URLs in messages lose their query: it may hold credentials (WooCommerce's fallback)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def classify_status(response: requests.Response, what: str, detail: str = "") -> None:
    """Raise the right error for a non-2xx answer; return for a 2xx.

    401/403 are the run's problem (credentials), not the order's.
    429 and 5xx on reads are transient; a 5xx on a write may have been applied, so it is
    an unknown outcome. 429 means the request was refused, so it is only transient.
    """
    status = response.status_code
    if status < 300:
        return
    method = response.request.method or "GET"
    where = f"{what}: {method} {strip_query(response.url)} answered {status}"
    message = redact(f"{where}: {detail}" if detail else where)
    if status in (401, 403):
        raise errors.CredentialsRejected(message)
    if status == 429:
        raise errors.RemoteUnavailable(message)
    if status >= 500:
        if method in SAFE_METHODS:
            raise errors.RemoteUnavailable(message)
        raise errors.OutcomeUnknown(message)
    raise errors.RemoteRejected(message)


def json_body(response: requests.Response, what: str) -> Any:
    """The JSON body, or a clear error naming what came instead (an HTML login page, say)."""
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any real answer
        kind = response.headers.get("Content-Type", "no content type")
        start = response.text[:80].strip().replace("\n", " ")
        raise errors.RemoteUnavailable(
            redact(
                f"{what}: {strip_query(response.url)} answered {kind} instead of JSON "
                f"(starts {start!r}); a security plugin, maintenance mode or a proxy may be in the way"
            )
        ) from None


def _cause(exc: requests.exceptions.ConnectionError) -> object:
    reason = exc.args[0] if exc.args else None
    return getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause


def _never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """A connection that could not be opened means the request never left: safe to retry."""
    return isinstance(_cause(exc), NewConnectionError)


def _timed_out(exc: requests.exceptions.ConnectionError) -> bool:
    return isinstance(_cause(exc), ReadTimeoutError)


_URL = re.compile(r"(https?://[^\s'\"?]+)\?[^\s'\"]*")


def strip_urls(text: str) -> str:
    """Every URL in `text` without its query."""
    return _URL.sub(r"\1", text)


def _clean(exc: BaseException) -> BaseException:
    """Chained exceptions carry URLs; keep the type, redact the text."""
    return type(exc)(redact(strip_urls(str(exc)))) if str(exc) else exc
