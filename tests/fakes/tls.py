"""Real TLS on loopback for the fakes: a private CA (trustme) and a FakeServer behind it.

What a shop with a self-signed or privately issued certificate looks like to iexsync: the
handshake itself fails unless the CA is trusted, so nothing reaches the app.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import trustme

from tests.fakes.server import FakeServer

if TYPE_CHECKING:
    from tests.fakes.woocommerce import WooServer


class PrivateCA:
    """A CA this machine does not trust, and a certificate it issued for 127.0.0.1."""

    def __init__(self, folder: Path):
        self.ca = trustme.CA(organization_name="iexsync test CA")
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.bundle = folder / "private-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))

    def wrap(self, server: FakeServer) -> FakeServer:
        """Serve `server` over TLS with this CA's certificate (before it starts)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        listener = server._server
        listener.socket = context.wrap_socket(listener.socket, server_side=True)
        inner: Callable[[dict, Callable], Iterable[bytes]] = listener.get_app()

        def as_https(environ: dict, start_response: Callable) -> Iterable[bytes]:
            return inner({**environ, "HTTPS": "on", "wsgi.url_scheme": "https"}, start_response)

        listener.set_app(as_https)
        server.url = f"https://127.0.0.1:{server.port}"
        server.ca = self  # type: ignore[attr-defined]  # whoever connects finds the bundle to trust
        return server


@contextmanager
def https_woo_server(ca: PrivateCA) -> Iterator["WooServer"]:
    """A WooServer (one loopback server for many fakes) over TLS with `ca`'s certificate."""
    from tests.fakes.woocommerce import WooServer

    with ca.wrap(WooServer()) as running:
        yield running  # type: ignore[misc]
