"""kopf registration: event handlers that keep the cache current and call the reconciler.

Why raw ``@kopf.on.event`` handlers (not ``on.create``/``on.update``/``on.resume``): kopf's
change-detection handlers persist their progress on the object (an annotation per change, a
finalizer for timers), which is a write per object per change and would make "an idle resync
issues zero writes" false. Event handlers persist nothing; the reconciler is level-triggered
(desired vs live every time) and does its own retries with backoff, so nothing is lost.

Start-up: the startup handler LISTs HardenedServices, the owned kinds and the pods made from our
pod templates (by our labels; for pods the watch too is filtered by the API server) into the
cache before kopf starts watching (see :mod:`.cache` for why not kopf's indexes). kopf's
initial listing of HardenedServices (event ``type`` None) is then our resume: each one is
compared against the cache, so a restart with nothing changed issues no write. Owned-object
and pod events that carry nothing new (same resourceVersion as cached: the listing again, or
our own write coming back) trigger nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import kopf

from hardened_operator import API_GROUP, API_VERSION, FIELD_MANAGER, KIND, PLURAL
from hardened_operator.builders import build_objects
from hardened_operator.controller import config_rollout
from hardened_operator.controller.cache import OWNER_LABEL, Cache, owner_of
from hardened_operator.controller.reconciler import MANAGED_BY_LABEL, Reconciler
from hardened_operator.controller.reports import Reports
from hardened_operator.controller.reports import register as register_reports
from hardened_operator.k8s import (
    KubeClient,
    bearer_header,
    load_configuration,
    load_connection,
)
from hardened_operator.k8s import metrics as m
from hardened_operator.k8s.resources import HARDENED_SERVICES, PODS, WATCHED, Resource

log = logging.getLogger(__name__)

# What we generate, and the pods made from our pod templates (which carry the same labels):
# a pod's status is what says why replicas are not ready (controller/pods.py).
_OWNED: tuple[Resource, ...] = WATCHED
_OURS = {MANAGED_BY_LABEL: FIELD_MANAGER}
_SELECTOR = ",".join(f"{k}={v}" for k, v in _OURS.items()) + f",{OWNER_LABEL}"


@dataclass
class OperatorState:
    """Shared between kopf's loop (handlers) and the health server (another thread)."""

    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: all
    resync_seconds: float = 0.0
    cache: Cache = field(default_factory=Cache)
    client: KubeClient | None = None
    reconciler: Reconciler | None = None
    heartbeat: float = 0.0  # time.monotonic() of kopf's loop last tick
    logged_in: bool = False  # kopf's login handler produced credentials
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    config_rollouts: bool = False  # --config-rollouts: see .config_rollout
    reports: Reports | None = None  # background PolicyReports (--reports); see .reports


async def prime(state: OperatorState, client: KubeClient) -> None:
    """Fill the cache with one LIST per kind (and namespace) before the watches start."""
    scopes: tuple[str | None, ...] = state.namespaces or (None,)
    for namespace in scopes:
        for resource, labels in ((HARDENED_SERVICES, ""), *((r, _SELECTOR) for r in _OWNED)):
            async for page in client.pages(resource, namespace, label_selector=labels):
                for item in page:
                    item.setdefault("kind", resource.kind)
                    item.setdefault("apiVersion", resource.api_version)
                    state.cache.observe(item)
    log.info("cache primed with %d objects", len(state.cache))


def build_registry(state: OperatorState) -> kopf.OperatorRegistry:
    """Our handlers in their own registry (never kopf's global one), bound to ``state``."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        # kopf's own watches log in exactly as our client does (--kubeconfig, $KUBECONFIG,
        # in-cluster, ~/.kube/config). kopf.login_via_client would read only the environment
        # as it was when `kubernetes` was imported, and prefer in-cluster over --kubeconfig.
        try:
            info = connection_info(state.kubeconfig, trust_env=settings.networking.trust_env)
        except Exception as exc:
            state.logged_in = False
            raise kopf.LoginError(f"cannot load the cluster's credentials: {exc}") from exc
        state.logged_in = True
        return info

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # kopf's own Events only for problems: "handler succeeded" events are writes too.
        settings.posting.level = logging.WARNING
        settings.posting.reporting_component = FIELD_MANAGER
        settings.watching.server_timeout = 600
        settings.networking.request_timeout = 60
        # kopf keeps a worker task per object until it idles this long; at start-up it lists
        # every owned object at once, so a short idle time keeps the peak memory down.
        settings.batching.idle_timeout = 1.0
        # Pods are the one kind with many objects that are not ours: the API server filters
        # them (kopf's handler filter alone would stream every pod of the cluster to us) --
        # unless the reports judge every bare Pod (then the handler's filter does it).
        if state.reports is None:
            settings.watching.label_selectors[PODS.group, PODS.version, PODS.plural] = _SELECTOR
        state.client = KubeClient(load_connection(state.kubeconfig))
        await prime(state, state.client)
        if state.config_rollouts:
            await config_rollout.prime(state.cache, state.client, state.namespaces)
        state.reconciler = Reconciler(state.client, state.cache, build_objects)
        state.reconciler.config_rollouts = state.config_rollouts
        state.heartbeat = time.monotonic()
        state.tasks.append(asyncio.create_task(_heartbeat(state)))
        if state.resync_seconds > 0:
            state.tasks.append(asyncio.create_task(_resync(state)))

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for task in state.tasks:
            task.cancel()
        for task in state.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if state.client is not None:
            await state.client.close()

    @kopf.on.event(API_GROUP, API_VERSION, PLURAL, id="hsvc_event", registry=registry)
    async def hsvc_event(
        *, type: str, body: kopf.Body, namespace: str | None, name: str, **_: Any
    ) -> None:
        reconciler = _ready(state)
        if namespace is None:  # pragma: no cover - the CRD is namespaced
            return
        if type == "DELETED":
            state.cache.remove(_with_kind(body, KIND))
            reconciler.forget(namespace, name)
            return
        news = state.cache.observe(_with_kind(body, KIND))
        if news or type is None:  # the initial listing is our resume: compare everything
            await reconciler.trigger(namespace, name)

    for resource in _OWNED:
        _register_owned(registry, state, resource)
    if state.config_rollouts:
        config_rollout.register(registry, state.cache, lambda ns, n: _ready(state).trigger(ns, n))
    if state.reports is not None:
        register_reports(registry, state.reports, state.kubeconfig)
    return registry


def connection_info(kubeconfig: str | None, *, trust_env: bool = False) -> kopf.ConnectionInfo:
    """kopf's credentials from the same configuration our :class:`KubeClient` uses."""
    cfg = load_configuration(kubeconfig)
    header = bearer_header(cfg)
    parts = header.split(" ", 1) if header else []
    scheme, token = (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else parts
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        username=cfg.username or None,
        password=cfg.password or None,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
        trust_env=trust_env,
    )


def _register_owned(
    registry: kopf.OperatorRegistry, state: OperatorState, resource: Resource
) -> None:
    async def on_event(*, type: str, namespace: str | None, body: kopf.Body, **_: Any) -> None:
        reconciler = _ready(state)
        obj = _with_kind(body, resource.kind)
        if type == "DELETED":
            state.cache.remove(obj)
        elif not state.cache.observe(obj):
            return  # nothing new: the listing again, or our own write coming back
        owner = owner_of(obj)
        # drift, deletion or a status change (ready replicas, PVC phase, what a pod waits for)
        if owner and namespace:
            await reconciler.trigger(namespace, owner)

    labels: dict[str, Any] = {**_OURS, OWNER_LABEL: kopf.PRESENT}
    kopf.on.event(
        resource.group,
        resource.version,
        resource.plural,
        id=f"owned_{resource.plural}",
        labels=labels,
        registry=registry,
    )(on_event)


def _with_kind(body: kopf.Body, kind: str) -> dict[str, Any]:
    obj = {key: body[key] for key in body}
    obj.setdefault("kind", kind)
    return obj


def _ready(state: OperatorState) -> Reconciler:
    if state.reconciler is None:  # pragma: no cover - startup handlers always run first
        raise RuntimeError("handler called before the operator's startup handler")
    return state.reconciler


async def _heartbeat(state: OperatorState) -> None:
    # The health server (another thread) declares us dead when this stops ticking:
    # a blocked event loop is the failure a liveness probe exists for.
    while True:
        state.heartbeat = time.monotonic()
        await asyncio.sleep(2)


async def _resync(state: OperatorState) -> None:
    """Re-compare everything periodically (standalone mode only; see docs/operator.md)."""
    while True:
        await asyncio.sleep(state.resync_seconds)
        if state.reconciler is None:
            continue
        keys = state.cache.hardened_services()
        await asyncio.gather(*(state.reconciler.trigger(ns, name) for ns, name in keys))
        m.RESYNCS.inc()
        log.info("resync of %d HardenedServices done", len(keys))
