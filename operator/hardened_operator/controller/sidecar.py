"""Admission webhook and health endpoints on a thread of their own, beside kopf.

Why a thread with its own event loop: kopf owns the main thread's loop and cancels every
foreign task when it stops; admission must keep answering while kopf starts, lists, pauses
for a peer or reconciles a thousand objects. The health server watches kopf from outside:
``/healthz`` fails when kopf's loop stops ticking, ``/readyz`` until kopf is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import prometheus_client
from aiohttp import web

from hardened_operator.controller.handlers import OperatorState
from hardened_operator.k8s import KubeClient, load_connection
from hardened_operator.k8s import metrics as m
from hardened_operator.k8s.certstore import inject_ca_bundle
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.server import WebhookServer, serve

log = logging.getLogger(__name__)

STALL_SECONDS = 30.0  # kopf's loop ticks every 2 s; this long without a tick is a hang
STARTUP_GRACE_SECONDS = 180.0  # before kopf's first tick (CRD checks, peering, listing)


@dataclass(frozen=True)
class WebhookSettings:
    config: WebhookConfig
    host: str
    port: int
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class CaInjection:
    """Keep ``caBundle`` of this ValidatingWebhookConfiguration equal to ``ca_pem``."""

    kubeconfig: str | None
    config_name: str
    ca_pem: bytes
    interval_seconds: float = 60.0


class Sidecar:
    def __init__(
        self,
        state: OperatorState,
        ready: threading.Event,
        *,
        health: tuple[str, int] | None,
        webhook: WebhookSettings | None,
        ca_injection: CaInjection | None = None,
    ) -> None:
        self._state, self._ready = state, ready
        self._health, self._webhook, self._ca = health, webhook, ca_injection
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="admission+health", daemon=True)
        self._born = time.monotonic()
        self.webhook_server: WebhookServer | None = None
        self.health_port: int | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("admission/health servers did not start in time")
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)

    # -- the thread ----------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start() or logged
            if not self._started.is_set():
                self._error = exc
                self._started.set()
            else:
                log.exception("admission/health thread crashed")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner: web.AppRunner | None = None
        injector: asyncio.Task[None] | None = None
        try:
            if self._webhook is not None:
                w = self._webhook
                self.webhook_server = await serve(w.config, w.host, w.port, w.cert_file, w.key_file)
            if self._health is not None:
                runner = web.AppRunner(self._health_app(), access_log=None, handle_signals=False)
                await runner.setup()
                site = web.TCPSite(runner, self._health[0], self._health[1], reuse_address=True)
                await site.start()
                self.health_port = int(runner.addresses[0][1])
                log.info("health and metrics on http://%s:%d", self._health[0], self.health_port)
            if self._ca is not None:
                injector = asyncio.create_task(self._keep_ca_injected(self._ca))
            self._started.set()
            await self._stop.wait()
        finally:
            if injector is not None:
                injector.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await injector
            if self.webhook_server is not None:
                await self.webhook_server.stop()
            if runner is not None:
                await runner.cleanup()

    async def _keep_ca_injected(self, ca: CaInjection) -> None:
        # The configuration may be (re)applied after we start, e.g. by `kubectl apply -k`:
        # re-check periodically; an unchanged caBundle costs one GET, no write.
        client = KubeClient(load_connection(ca.kubeconfig))
        try:
            while True:
                try:
                    if await inject_ca_bundle(client, ca.config_name, ca.ca_pem) is None:
                        log.warning("ValidatingWebhookConfiguration %s not found", ca.config_name)
                except Exception:
                    log.exception("could not inject the CA into %s", ca.config_name)
                await asyncio.sleep(ca.interval_seconds)
        finally:
            await client.close()

    # -- health ----------------------------------------------------------------------------

    def alive(self) -> tuple[bool, str]:
        beat = self._state.heartbeat
        now = time.monotonic()
        if beat == 0.0:
            if now - self._born > STARTUP_GRACE_SECONDS:
                return False, "the operator never finished starting"
            return True, "starting"
        if now - beat > STALL_SECONDS:
            return False, f"the operator loop has not ticked for {now - beat:.0f}s"
        return True, "ok"

    def _health_app(self) -> web.Application:
        async def healthz(_: web.Request) -> web.Response:
            ok, why = self.alive()
            return web.Response(status=200 if ok else 503, text=why + "\n")

        async def readyz(_: web.Request) -> web.Response:
            if not self._ready.is_set():
                return web.Response(status=503, text="operator not ready (listing)\n")
            if self._webhook is not None and self.webhook_server is None:
                return web.Response(status=503, text="webhook not serving\n")
            return web.Response(text="ready\n")

        async def metrics(_: web.Request) -> web.Response:
            body = prometheus_client.generate_latest(
                m.REGISTRY
            ) + prometheus_client.generate_latest(
                prometheus_client.REGISTRY  # process RSS, CPU, open fds
            )
            return web.Response(
                body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
            )

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", metrics)
        return app
