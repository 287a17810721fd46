"""kopf registration: indexes of what we watch, and event handlers that call the reconciler.

Why raw ``@kopf.on.event`` handlers (not ``on.create``/``on.update``/``on.resume``): kopf's
change-detection handlers persist their progress on the object (an annotation per change, a
finalizer for timers), which is a write per object per change and would make "an idle resync
issues zero writes" false. Event handlers persist nothing; the reconciler is level-triggered
(desired vs live every time) and does its own retries with backoff, so nothing is lost.

The initial listing kopf does at start-up (event ``type`` None) is our resume: every
HardenedService is compared against kopf's indexes, which kopf fills before any handler runs,
so a restart with nothing changed issues no write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from hardened_operator import API_GROUP, API_VERSION, FIELD_MANAGER, PLURAL
from hardened_operator.builders import build_objects
from hardened_operator.controller.reconciler import (
    MANAGED_BY_LABEL,
    OWNER_LABEL,
    Reconciler,
    owner_of,
)
from hardened_operator.k8s import KubeClient, load_connection
from hardened_operator.k8s import metrics as m

log = logging.getLogger(__name__)

_OWNED = {"owned_deployments": ("apps", "v1", "deployments"),
          "owned_services": ("", "v1", "services"),
          "owned_pvcs": ("", "v1", "persistentvolumeclaims")}  # fmt: skip
_OURS = {MANAGED_BY_LABEL: FIELD_MANAGER}


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """A plain-dict copy of a watched object without managedFields (the bulk of its bytes)."""
    obj = {key: body[key] for key in body}
    meta = dict(obj.get("metadata") or {})
    meta.pop("managedFields", None)
    obj["metadata"] = meta
    return obj


class IndexView:
    """The reconciler's :class:`LiveView` over kopf's indexes (bound on first use)."""

    def __init__(self) -> None:
        self.indices: Mapping[str, Any] = {}

    def _index(self, name: str) -> Mapping[Any, Any]:
        return self.indices.get(name) or {}

    def hardened_service(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        store = self._index("hsvc_index").get((namespace, name))
        return next(iter(store), None) if store else None

    def owned(self, namespace: str, name: str) -> list[Mapping[str, Any]]:
        out: list[Mapping[str, Any]] = []
        for index_name in _OWNED:
            out.extend(self._index(index_name).get((namespace, name)) or ())
        return out

    def all_hardened_services(self) -> list[tuple[str, str]]:
        return list(self._index("hsvc_index"))


@dataclass
class OperatorState:
    """Shared between kopf's loop (handlers) and the health server (another thread)."""

    kubeconfig: str | None = None
    resync_seconds: float = 0.0
    view: IndexView = field(default_factory=IndexView)
    client: KubeClient | None = None
    reconciler: Reconciler | None = None
    heartbeat: float = 0.0  # time.monotonic() of kopf's loop last tick
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    resyncs: int = 0


def build_registry(state: OperatorState) -> kopf.OperatorRegistry:
    """Our handlers in their own registry (never kopf's global one), bound to ``state``."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # kopf's own watches: in-cluster service account, else KUBECONFIG (as the k8s client).
        info: kopf.ConnectionInfo | None = kopf.login_via_client(**kwargs)
        return info

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # kopf's own Events only for problems: "handler succeeded" events are writes too.
        settings.posting.level = logging.WARNING
        settings.posting.reporting_component = FIELD_MANAGER
        settings.watching.server_timeout = 600
        settings.networking.request_timeout = 60
        state.client = KubeClient(load_connection(state.kubeconfig))
        state.reconciler = Reconciler(state.client, state.view, build_objects)
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

    @kopf.index(API_GROUP, API_VERSION, PLURAL, id="hsvc_index", registry=registry)
    def hsvc_index(*, namespace: str | None, name: str, body: kopf.Body, **_: Any) -> object:
        return {(namespace, name): slim(body)}

    @kopf.on.event(API_GROUP, API_VERSION, PLURAL, id="hsvc_event", registry=registry)
    async def hsvc_event(*, type: str, namespace: str | None, name: str, **kw: Any) -> None:
        reconciler = _ready(state, kw)
        if namespace is None:  # pragma: no cover - the CRD is namespaced
            return
        if type == "DELETED":
            reconciler.forget(namespace, name)
            return
        await reconciler.trigger(namespace, name)

    for index_name, (group, version, plural) in _OWNED.items():
        _register_owned(registry, state, index_name, group, version, plural)
    return registry


def _register_owned(
    registry: kopf.OperatorRegistry,
    state: OperatorState,
    index_name: str,
    group: str,
    version: str,
    plural: str,
) -> None:
    def index(*, namespace: str | None, body: kopf.Body, **_: Any) -> object:
        owner = owner_of(body)
        return {(namespace, owner): slim(body)} if owner else {}

    async def on_event(*, type: str, namespace: str | None, body: kopf.Body, **kw: Any) -> None:
        reconciler = _ready(state, kw)
        if type == "DELETED":
            reconciler.forget_owned(body)
        owner = owner_of(body)
        if owner and namespace:  # drift, deletion or a status change (ready replicas, PVC phase)
            await reconciler.trigger(namespace, owner)

    labels: dict[str, Any] = {**_OURS, OWNER_LABEL: kopf.PRESENT}
    kopf.index(group, version, plural, id=index_name, labels=labels, registry=registry)(index)
    kopf.on.event(
        group, version, plural, id=f"{index_name}_event", labels=labels, registry=registry
    )(on_event)


def _ready(state: OperatorState, kwargs: Mapping[str, Any]) -> Reconciler:
    # kopf passes every index to every handler by name; keep references for the reconciler.
    if not state.view.indices:
        state.view.indices = {name: kwargs[name] for name in ("hsvc_index", *_OWNED)}
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
        keys = state.view.all_hardened_services()
        await asyncio.gather(*(state.reconciler.trigger(ns, name) for ns, name in keys))
        state.resyncs += 1
        m.RESYNCS.inc()
        log.info("resync of %d HardenedServices done", len(keys))
