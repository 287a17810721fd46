"""Run the webhook app on a socket: HTTPS with certificate reload, or loopback-only HTTP."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from hardened_operator.errors import InputError
from hardened_operator.webhook.app import create_app
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.tls import CertReloader
from hardened_operator.webhook.workers import WorkerGroup, listen_args

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


TLS_HANDSHAKE_TIMEOUT = 10.0  # asyncio's default is 60 s
WORKERS_START_SECONDS = 60.0
LINGERING_SECONDS = 2.0  # reading (and dropping) the rest of a refused body; aiohttp: 10 s


class _HeaderTimeoutHandler(RequestHandler):
    """aiohttp's connection handler plus a deadline for each request's head.

    aiohttp closes a connection that has not sent a whole request ``keepalive_timeout``
    seconds after it was accepted or after its last response; that is the idle timeout
    here. A client that sends the head byte by byte (slowloris) would have all that time, so
    a head must be complete ``header_timeout`` seconds after its first part arrived. A head
    that arrives whole, the usual case, sets no timer at all. A connection that sends nothing
    is idle, not slow: the API server's connection pool dials connections it may only use
    later, and closing those early would race its next request.
    """

    def __init__(self, manager: web.Server, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout = header_timeout
        self._header_timer: asyncio.TimerHandle | None = None

    def _between_requests(self) -> bool:
        return not self._messages and not self._request_in_progress

    def _arm(self) -> None:
        self._header_timer = self._loop.call_later(self._header_timeout, self._header_expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_expired(self) -> None:
        self._header_timer = None
        if self._between_requests() and self.transport is not None:
            log.info("closing a connection whose request head took over %s s", self._header_timeout)
            self.force_close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages or self._request_in_progress:
            if self._header_timer is not None:
                self._disarm()  # a whole head arrived; the body has its own timeout
        elif self._header_timer is None:
            self._arm()  # part of a head: it has header_timeout from now to be complete

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class _Site(web.BaseSite):
    """A TCP site whose connections get ``_HeaderTimeoutHandler`` and a TLS deadline."""

    __slots__ = ("_header_timeout", "_host", "_port", "_reuse_port")

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        header_timeout: float,
        reuse_port: bool,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=1024)
        self._host, self._port = host, port
        self._header_timeout = header_timeout
        self._reuse_port = reuse_port

    @property
    def name(self) -> str:
        return f"{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        kwargs: dict[str, Any] = dict(server._kwargs)  # what AppRunner(...) was given
        header_timeout = self._header_timeout

        def protocol() -> RequestHandler:
            return _HeaderTimeoutHandler(server, loop=loop, header_timeout=header_timeout, **kwargs)

        self._server = await loop.create_server(
            protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=True,
            reuse_port=self._reuse_port or None,
            ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT if self._ssl_context else None,
        )


@dataclass
class WebhookServer:
    """A running webhook; ``await stop()`` closes the socket and finishes open requests."""

    runner: web.AppRunner | None  # None: served by worker processes (``group``)
    host: str
    port: int
    scheme: str
    reloader: CertReloader | None
    group: WorkerGroup | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.group is not None:
            await asyncio.to_thread(self.group.stop)


async def serve(
    config: WebhookConfig | None,
    host: str,
    port: int,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
    *,
    insecure: bool = False,
    app: web.Application | None = None,
    reuse_port: bool = False,
    workers: int = 1,
) -> WebhookServer:
    """Start serving ``create_app(config)`` (or ``app``) on ``host:port`` and return.

    HTTPS needs ``cert_file`` and ``key_file`` (re-read when they change). ``insecure=True``
    serves plain HTTP instead and is refused unless ``host`` is a loopback address.
    ``reuse_port`` lets other processes serve the same port (``--workers``). ``workers`` > 1
    serves from that many ``hardened webhook`` processes instead of this one (see
    ``webhook.workers``; what the app would serve must then be ``config``, not ``app``).
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
    config = config or WebhookConfig()
    if workers > 1:
        if app is not None:
            raise InputError("workers > 1 serve create_app(config); an app cannot be passed on")
        return await _serve_workers(config, host, port, cert_file, key_file, workers)
    runner = web.AppRunner(
        app or create_app(config),
        access_log=None,
        handle_signals=False,
        keepalive_timeout=config.idle_timeout,
        lingering_time=LINGERING_SECONDS,
    )
    await runner.setup()
    try:
        ssl_context = reloader.listening_context() if reloader else None
        site = _Site(
            runner,
            host,
            port,
            ssl_context=ssl_context,
            header_timeout=config.header_timeout,
            reuse_port=reuse_port,
        )
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1] if runner.addresses else port
    scheme = "https" if reloader else "http"
    server = WebhookServer(runner, host, int(bound_port), scheme, reloader)
    log.info("admission webhook serving on %s", server.url)
    return server


def worker_args(config: WebhookConfig) -> list[str]:
    """``hardened webhook`` flags that give a worker exactly ``config``; InputError when a
    setting has no flag (it would silently differ in the workers)."""
    expressible = WebhookConfig(
        profile=config.profile,
        exempt_namespaces=config.exempt_namespaces,
        exempt_usernames=config.exempt_usernames,
        max_body_bytes=config.max_body_bytes,
    )
    if expressible != config:
        raise InputError(
            "webhook workers get their settings as flags: only the profile, exemptions and "
            "max_body_bytes can differ from the defaults"
        )
    args = ["--profile", config.profile, "--no-default-exemptions"]
    for namespace in sorted(config.exempt_namespaces):
        args += ["--exempt-namespace", namespace]
    for user in sorted(config.exempt_usernames):
        args += ["--exempt-username", user]
    args += ["--max-body-bytes", str(config.max_body_bytes)]
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()
    if level in ("debug", "info", "warning", "error"):
        args += ["--log-level", level]
    return args


async def _serve_workers(
    config: WebhookConfig,
    host: str,
    port: int,
    cert_file: Path | str | None,
    key_file: Path | str | None,
    workers: int,
) -> WebhookServer:
    tls = ["--insecure"] if cert_file is None else ["--tls-cert-file", str(cert_file)]
    if key_file is not None:
        tls += ["--tls-key-file", str(key_file)]
    reservation, port, listen = listen_args(host, port)
    group = WorkerGroup(["webhook", *listen, *tls, *worker_args(config)], workers)
    try:
        group.start()
        target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        deadline = time.monotonic() + WORKERS_START_SECONDS
        while True:  # serving once the port answers
            if group.wait(0) or time.monotonic() > deadline:
                raise InputError(f"webhook workers did not start (exit code {group.failed})")
            try:
                _, writer = await asyncio.open_connection(target, port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
    except BaseException:
        await asyncio.to_thread(group.stop)
        raise
    finally:
        if reservation is not None:
            reservation.close()
    scheme = "http" if cert_file is None else "https"
    server = WebhookServer(None, host, port, scheme, None, group)
    log.info("admission webhook serving on %s from %d workers", server.url, workers)
    return server
