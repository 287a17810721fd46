"""Admission webhook and health endpoints on a thread of their own, beside kopf.

Why a thread with its own event loop: kopf owns the main thread's loop and cancels every
foreign task when it stops; admission must keep answering while kopf starts, lists, pauses
for a peer or reconciles a thousand objects. The health server watches kopf from outside:

- ``/healthz`` (liveness, deliberately simple) fails only when kopf's loop stops ticking;
- ``/readyz`` (the readinessProbe: whether the webhook Service may send this replica
  admission requests) answers 200 while the webhook is serving. Answering admission needs no
  API access, so an API server blip must not take every replica out of the Service -- with
  ``failurePolicy: Fail`` that would refuse every reviewed request cluster-wide;
- ``/operatorz`` (and the ``hardened_operator_reconciler_ready`` / ``_api_reachable``
  gauges) says whether the reconciler can work: kopf started and logged in, and the API
  server answers the operator's own credentials (a one-item LIST of HardenedServices every
  few seconds: the read kopf's watch needs).
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
from hardened_operator.k8s import KubeClient, RetryPolicy, load_connection
from hardened_operator.k8s import metrics as m
from hardened_operator.k8s.certstore import bundle_to_trust, inject_ca_bundle
from hardened_operator.k8s.resources import HARDENED_SERVICES
from hardened_operator.webhook.config import WebhookConfig
from hardened_operator.webhook.server import WebhookServer, serve

log = logging.getLogger(__name__)

STALL_SECONDS = 30.0  # kopf's loop ticks every 2 s; this long without a tick is a hang
STARTUP_GRACE_SECONDS = 180.0  # before kopf's first tick (CRD checks, peering, listing)
API_PROBE_SECONDS = 3.0  # how often readiness asks the API server
API_FRESH_SECONDS = 10.0  # an answer older than this no longer counts as connected


@dataclass(frozen=True)
class WebhookSettings:
    config: WebhookConfig
    host: str
    port: int
    cert_file: Path
    key_file: Path
    workers: int = 1  # > 1: served by that many `hardened webhook` processes (--workers)


@dataclass(frozen=True)
class CaInjection:
    """Keep ``caBundle`` of this ValidatingWebhookConfiguration trusting ``ca_pem`` and the CAs
    the certificate Secret records (``certstore.trusted_cas``: rotations refuse nothing)."""

    kubeconfig: str | None
    config_name: str
    ca_pem: bytes
    interval_seconds: float = 60.0
    secret_namespace: str | None = None
    secret_name: str | None = None


class ServingThread:
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
        self._ca_trusted = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="admission+health", daemon=True)
        self._born = time.monotonic()
        self.webhook_server: WebhookServer | None = None
        self.health_port: int | None = None
        self._api_ok_at = 0.0  # time.monotonic() of the last successful API probe
        self._api_error = "not probed yet"

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
        prober: asyncio.Task[None] | None = None
        try:
            if self._webhook is not None:
                w = self._webhook
                self.webhook_server = await serve(
                    w.config, w.host, w.port, w.cert_file, w.key_file, workers=w.workers
                )
            if self._health is not None:
                runner = web.AppRunner(self._health_app(), access_log=None, handle_signals=False)
                await runner.setup()
                site = web.TCPSite(runner, self._health[0], self._health[1], reuse_address=True)
                await site.start()
                self.health_port = int(runner.addresses[0][1])
                log.info("health and metrics on http://%s:%d", self._health[0], self.health_port)
            if self._ca is not None:
                injector = asyncio.create_task(self._keep_ca_injected(self._ca))
            if self._health is not None:
                prober = asyncio.create_task(self._probe_api())
            self._started.set()
            await self._stop.wait()
        finally:
            for task in (injector, prober):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if self.webhook_server is not None:
                await self.webhook_server.stop()
            if runner is not None:
                await runner.cleanup()

    async def _keep_ca_injected(self, ca: CaInjection) -> None:
        # The configuration may be (re)applied after we start, e.g. by `kubectl apply -k`, and
        # another replica may rotate the certificate: re-check periodically; an unchanged
        # state costs two GETs (the Secret, the configuration), no write.
        client = KubeClient(load_connection(ca.kubeconfig))
        try:
            while True:
                try:
                    bundle = await bundle_to_trust(
                        client, ca.ca_pem, ca.secret_namespace, ca.secret_name
                    )
                    if await inject_ca_bundle(client, ca.config_name, bundle) is None:
                        log.warning("ValidatingWebhookConfiguration %s not found", ca.config_name)
                    # Trusted now -- or no configuration exists that could call us untrusted.
                    self._ca_trusted.set()
                except Exception:
                    log.exception("could not inject the CA into %s", ca.config_name)
                await asyncio.sleep(ca.interval_seconds)
        finally:
            await client.close()

    async def _probe_api(self) -> None:
        # No retries and a short timeout: readiness must notice a lost API server quickly.
        client: KubeClient | None = None
        namespace = self._state.namespaces[0] if self._state.namespaces else None
        try:
            while True:
                try:
                    if client is None:
                        client = KubeClient(
                            load_connection(self._state.kubeconfig),
                            retry=RetryPolicy(attempts=1),
                            timeout_seconds=API_PROBE_SECONDS,
                        )
                    await client.probe(HARDENED_SERVICES, namespace)
                except Exception as exc:
                    self._api_error = f"{type(exc).__name__}: {exc}"
                else:
                    self._api_ok_at = time.monotonic()
                m.API_REACHABLE.set(1 if self._api_fresh() else 0)
                m.RECONCILER_READY.set(1 if self.operator_ready()[0] else 0)
                await asyncio.sleep(API_PROBE_SECONDS)
        finally:
            if client is not None:
                await client.close()

    # -- health ----------------------------------------------------------------------------

    def ready(self) -> tuple[bool, str]:
        """Readiness (``/readyz``): this replica can answer what its Services send it --
        admission when the webhook is on. Neither kopf nor the API server is needed for that."""
        if self._webhook is not None and self.webhook_server is None:
            return False, "webhook not serving"
        if self._ca is not None and not self._ca_trusted.is_set():
            # Until the API server trusts our CA, every call it routes here would fail TLS
            # (after a rotation, say); once it does, readiness never needs the API again.
            return False, "webhook serving; waiting for the API server to trust its CA"
        return True, "ready" if self._webhook is None else "ready: webhook serving"

    def operator_ready(self) -> tuple[bool, str]:
        """``/operatorz``: the reconciler can work (started, logged in, API answering)."""
        if not self._ready.is_set():
            return False, "operator not ready (starting, listing)"
        if not self._state.logged_in:
            return False, "operator has not logged in to the API server"
        if not self._api_fresh():
            return False, f"API server not answering: {self._api_error}"
        return True, "reconciler ready"

    def _api_fresh(self) -> bool:
        return time.monotonic() - self._api_ok_at <= API_FRESH_SECONDS

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
            ok, why = self.ready()
            return web.Response(status=200 if ok else 503, text=why + "\n")

        async def operatorz(_: web.Request) -> web.Response:
            ok, why = self.operator_ready()
            return web.Response(status=200 if ok else 503, text=why + "\n")

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
        app.router.add_get("/operatorz", operatorz)
        app.router.add_get("/metrics", metrics)
        return app
