"""Run the webhook app on a socket: HTTPS with certificate reload, or loopback-only HTTP."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hardened_operator.errors import InputError
from hardened_operator.webhook.app import create_app
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.tls import CertReloader

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT`` -> (host, port); port 0 picks a free one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise InputError(f"--listen {value!r}: expected HOST:PORT, e.g. 0.0.0.0:8443")
    return host.strip("[]"), int(port_text)


@dataclass
class WebhookServer:
    """A running webhook; ``await stop()`` closes the socket and finishes open requests."""

    runner: web.AppRunner
    host: str
    port: int
    scheme: str
    reloader: CertReloader | None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def serve(
    config: WebhookConfig | None,
    host: str,
    port: int,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
    *,
    insecure: bool = False,
    app: web.Application | None = None,
) -> WebhookServer:
    """Start serving ``create_app(config)`` (or ``app``) on ``host:port`` and return.

    HTTPS needs ``cert_file`` and ``key_file`` (re-read when they change). ``insecure=True``
    serves plain HTTP instead and is refused unless ``host`` is a loopback address.
    """
    reloader: CertReloader | None = None
    if insecure:
        if cert_file or key_file:
            raise InputError("--insecure serves plain HTTP: do not give certificate files")
        if not is_loopback(host):
            raise InputError(
                f"--insecure refuses to listen on {host!r}: plain HTTP is for loopback "
                "addresses only (127.0.0.1, ::1, localhost)"
            )
    elif not cert_file or not key_file:
        raise InputError("HTTPS needs --tls-cert-file and --tls-key-file (or --insecure)")
    else:
        reloader = CertReloader(cert_file, key_file)
    runner = web.AppRunner(app or create_app(config), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        ssl_context = reloader.listening_context() if reloader else None
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1] if runner.addresses else port
    scheme = "https" if reloader else "http"
    server = WebhookServer(runner, host, int(bound_port), scheme, reloader)
    log.info("admission webhook serving on %s", server.url)
    return server
