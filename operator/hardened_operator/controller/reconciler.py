"""One HardenedService -> its owned objects, applied only where they drifted, and its status.

No kopf here (the handlers feed it): the live state comes from the :class:`~.cache.Cache` the
watches keep current (listed once at start-up), so a reconcile reads nothing from the API and
writes only what differs. Our own writes go into the cache as soon as the API answers, so an
event that races our apply does not cause a second, useless apply.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hardened_operator import API_GROUP, API_VERSION, FIELD_MANAGER, KIND
from hardened_operator.builders import WORKLOAD_KINDS, warnings_for
from hardened_operator.controller import config_rollout
from hardened_operator.controller import status as status_logic
from hardened_operator.controller.cache import OWNER_LABEL, Cache
from hardened_operator.errors import ApiError, InputError, NotFoundError
from hardened_operator.k8s import KubeClient, drift, owner_uids
from hardened_operator.k8s import metrics as m
from hardened_operator.k8s.client import JSON_PATCH
from hardened_operator.k8s.resources import HARDENED_SERVICES, for_object
from hardened_operator.workloads import review_object

log = logging.getLogger(__name__)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
_APPLY_ORDER = {
    "PersistentVolumeClaim": 0,
    "Service": 1,
    "Deployment": 2,
    "StatefulSet": 2,
    "HorizontalPodAutoscaler": 3,
    "PodDisruptionBudget": 3,
    "NetworkPolicy": 3,
}

Key = tuple[str, str]  # (namespace, name)
Builder = Callable[[Mapping[str, Any]], list[dict[str, Any]]]


@dataclass
class Outcome:
    """What one reconcile did (for logs, metrics and tests)."""

    applied: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    status_written: bool = False
    failure: status_logic.ApplyFailure | None = None
    pod_problem: str = ""  # the pod reason an Event was recorded for (a new one only)

    def keep_first(self, failure: status_logic.ApplyFailure) -> None:
        """Degraded reports the first thing that went wrong; later failures only get logged."""
        if self.failure is None:
            self.failure = failure

    def api_failed(self, ref: str, exc: ApiError) -> None:
        self.keep_first(status_logic.ApplyFailure(ref, exc.status, exc.reason, str(exc)))


@dataclass
class _KeyState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: bool = False
    failures: int = 0
    retry: asyncio.TimerHandle | None = None
    last_warning: str = ""


def with_owner(
    desired: Sequence[Mapping[str, Any]], hsvc: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Add the HardenedService as controller owner: always to Deployments and Services, to
    PVCs only under ``volumeReclaimPolicy: Delete`` (Retain: data outlives the service)."""
    meta = hsvc["metadata"]
    policy = (hsvc.get("spec") or {}).get("volumeReclaimPolicy") or "Retain"
    ref = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    out = []
    for obj in desired:
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": meta["namespace"]}}
        obj["metadata"].pop("ownerReferences", None)
        if obj["kind"] != "PersistentVolumeClaim" or policy == "Delete":
            obj["metadata"]["ownerReferences"] = [ref]
        out.append(obj)
    return sorted(out, key=lambda o: _APPLY_ORDER.get(o["kind"], 9))


def _ref(obj: Mapping[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _violating(desired: Sequence[Mapping[str, Any]]) -> dict[int, status_logic.ApplyFailure]:
    """Generated objects our own policy would refuse (``restricted``, as the builders promise).

    The builders are property-tested to pass it; this is the fail-closed net for a builder bug:
    such an object is not applied (nor deleted: the live one stays as it was), and the
    HardenedService is Degraded with the violation -- even where no webhook would stop it
    (an exempt namespace, ``--no-webhook``).
    """
    out: dict[int, status_logic.ApplyFailure] = {}
    for obj in desired:
        violations = review_object(obj, "restricted")
        if violations:
            text = "; ".join(v.describe() for v in violations[:3])
            out[id(obj)] = status_logic.ApplyFailure(
                _ref(obj), None, "PolicyViolation", f"refused by our own policy: {text}"
            )
    return out


def _adoptable(existing: Mapping[str, Any], hsvc: Mapping[str, Any]) -> bool:
    """Ours to apply: labelled by us for this HardenedService's name and owned by nothing but
    a HardenedService of that name -- this one, or an earlier one deleted and re-created (a
    claim kept under ``Retain``, a Deployment the garbage collector has not reached yet):
    the same objects the cache would hand us, so both paths adopt alike."""
    meta = existing.get("metadata") or {}
    labels = meta.get("labels") or {}
    name = hsvc["metadata"]["name"]
    if labels.get(MANAGED_BY_LABEL) != FIELD_MANAGER or labels.get(OWNER_LABEL) != name:
        return False
    return all(
        ref.get("kind") == KIND and ref.get("name") == name
        for ref in meta.get("ownerReferences") or []
    )


def _owner_text(existing: Mapping[str, Any]) -> str:
    meta = existing.get("metadata") or {}
    owners = [f"{r.get('kind')}/{r.get('name')}" for r in meta.get("ownerReferences") or []]
    if owners:
        return "owned by " + ", ".join(owners)
    managed_by = (meta.get("labels") or {}).get(MANAGED_BY_LABEL)
    return f"managed by {managed_by}" if managed_by else "created outside the operator"


class Reconciler:
    """Reconciles HardenedServices; one at a time per object, bursts coalesced."""

    def __init__(
        self,
        client: KubeClient,
        cache: Cache,
        build: Builder,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        max_backoff_seconds: float = 300.0,
        max_concurrent: int = 128,
    ) -> None:
        self.client = client
        self.cache = cache
        self._build = build
        self._clock = clock
        self._max_backoff = max_backoff_seconds
        self._keys: dict[Key, _KeyState] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Bounded: a reconcile holds its desired objects in memory while its requests queue
        # for the client's connections; twice the connections keeps them all busy.
        self._slots = asyncio.Semaphore(max_concurrent)

    config_rollouts: bool = False
    """Hash the referenced ConfigMaps/Secrets onto the pod templates (see .config_rollout)."""

    # -- the watch side ------------------------------------------------------------------

    def forget(self, namespace: str, name: str) -> None:
        """The HardenedService is gone: drop its state (its owned objects go by GC)."""
        state = self._keys.pop((namespace, name), None)
        if state and state.retry:
            state.retry.cancel()

    async def trigger(self, namespace: str, name: str) -> Outcome | None:
        """Reconcile now, or -- if one is already waiting for this object -- let it do the job."""
        state = self._keys.setdefault((namespace, name), _KeyState())
        if state.pending:
            return None
        state.pending = True
        async with state.lock, self._slots:
            state.pending = False
            return await self.reconcile(namespace, name)

    # -- one reconcile -------------------------------------------------------------------

    async def reconcile(self, namespace: str, name: str) -> Outcome:
        started = time.monotonic()
        outcome = Outcome()
        hsvc = self.cache.hardened_service(namespace, name)
        if hsvc is None or hsvc.get("metadata", {}).get("deletionTimestamp"):
            return outcome
        meta = hsvc["metadata"]
        generation = meta.get("generation")
        settled = (hsvc.get("status") or {}).get("observedGeneration") == generation

        warnings: list[str] = []
        try:
            desired = with_owner(self._build(hsvc), hsvc)
            warnings = warnings_for(hsvc)
            desired = self._with_config_hash(hsvc, desired)
        except InputError as exc:
            desired = []
            outcome.failure = status_logic.ApplyFailure(
                f"{KIND}/{name}", None, "InvalidSpec", str(exc)
            )

        live: dict[tuple[str, str], Any] = {
            (str(obj.get("kind")), obj["metadata"]["name"]): obj
            for obj in self.cache.owned(namespace, name)
        }
        unsafe = _violating(desired)
        if unsafe:
            outcome.keep_first(next(iter(unsafe.values())))

        # Claims and the Service first, all at once; then the Deployments that use them.
        # Within a wave the applies are independent, so they go out concurrently.
        for wave in (
            [o for o in desired if o["kind"] not in WORKLOAD_KINDS],
            [o for o in desired if o["kind"] in WORKLOAD_KINDS],
        ):
            changed: list[tuple[Mapping[str, Any], Any, list[str]]] = []
            safe = [o for o in wave if id(o) not in unsafe]
            for item in await self._claimable(hsvc, safe, live, outcome):
                current = live.get((item["kind"], item["metadata"]["name"]))
                paths = drift(item, current)
                if paths:
                    changed.append((item, current, paths))
            results = await asyncio.gather(
                *(self.client.apply(o) for o, _, _ in changed), return_exceptions=True
            )
            for (done, current, paths), result in zip(changed, results, strict=True):
                await self._record(hsvc, done, current, paths, result, live, outcome, settled)
            for item in safe:
                await self._repair_foreign_fields(hsvc, item, live, outcome)

        await self._delete_stale(hsvc, desired, live, outcome)

        new_status = status_logic.compute(
            hsvc,
            desired,
            live,
            now=self._clock(),
            failure=outcome.failure,
            pods=self.cache.pods(namespace, name),
            warnings=warnings,
        )
        if not status_logic.same(hsvc.get("status"), new_status):
            try:
                written = await self.client.patch_status(
                    HARDENED_SERVICES, namespace, name, new_status
                )
            except ApiError as exc:
                log.warning("status of %s/%s not written: %s", namespace, name, exc)
                if not isinstance(exc, NotFoundError):
                    outcome.api_failed(f"{KIND}/{name}", exc)
            else:
                self.cache.observe(written)
                outcome.status_written = True
                # Only once the status says it: a failed write retries the Event with it.
                event = status_logic.pod_event(hsvc.get("status"), new_status)
                if event is not None:
                    outcome.pod_problem = event[0]
                    await self.client.post_event(
                        hsvc, reason=event[0], message=event[1], type_="Warning"
                    )

        await self._after(hsvc, outcome)
        m.RECONCILE_SECONDS.observe(time.monotonic() - started)
        verdict = "failed" if outcome.failure else "applied" if outcome.applied else "unchanged"
        m.RECONCILES.labels(verdict).inc()
        if outcome.applied or outcome.failure or outcome.deleted:
            log.info(
                "reconciled %s/%s: applied=%s drifted=%s deleted=%s failure=%s",
                namespace,
                name,
                outcome.applied,
                outcome.drifted,
                outcome.deleted,
                outcome.failure and outcome.failure.message,
            )
        return outcome

    def _with_config_hash(
        self, hsvc: Mapping[str, Any], desired: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        refs = config_rollout.references(hsvc.get("spec") or {})
        if not self.config_rollouts or not refs:
            return desired
        value = config_rollout.config_hash(hsvc["metadata"]["namespace"], refs, self.cache.get)
        return [dict(o) for o in config_rollout.annotate(desired, value)]

    async def _claimable(
        self,
        hsvc: Mapping[str, Any],
        wave: Sequence[Mapping[str, Any]],
        live: Mapping[tuple[str, str], Any],
        outcome: Outcome,
    ) -> list[Mapping[str, Any]]:
        """The objects of ``wave`` we may apply: ours already, or not existing.

        An object missing from the cache (which holds only what we labelled) may still exist:
        a user's Deployment or PVC of the same name, or another HardenedService's (``x``'s
        debug Deployment is ``x-debug``, the name of a HardenedService ``x-debug`` too). A
        forced apply would take it over -- and under ``Delete`` hand a user's claim to the
        garbage collector -- or two HardenedServices would take it from each other forever.
        One read per object we are about to create; objects we know cost nothing.
        """
        unknown = [o for o in wave if live.get((o["kind"], o["metadata"]["name"])) is None]
        if not unknown:
            return list(wave)
        namespace = hsvc["metadata"]["namespace"]
        found = await asyncio.gather(
            *(self.client.find(for_object(o), namespace, o["metadata"]["name"]) for o in unknown),
            return_exceptions=True,
        )
        refused: set[int] = set()
        for item, existing in zip(unknown, found, strict=True):
            if isinstance(existing, BaseException):
                if not isinstance(existing, ApiError):
                    raise existing
                failure = status_logic.ApplyFailure(
                    _ref(item), existing.status, existing.reason, str(existing)
                )
            elif existing is None or _adoptable(existing, hsvc):
                continue
            else:
                failure = status_logic.ApplyFailure(
                    _ref(item),
                    409,
                    "NotOwned",
                    f"{_ref(item)} already exists and is not this HardenedService's "
                    f"({_owner_text(existing)}); rename or remove it -- it is left untouched",
                )
            refused.add(id(item))
            outcome.keep_first(failure)
        return [o for o in wave if id(o) not in refused]

    async def _repair_foreign_fields(
        self,
        hsvc: Mapping[str, Any],
        desired: Mapping[str, Any],
        live: dict[tuple[str, str], Any],
        outcome: Outcome,
    ) -> None:
        """Put back a pod template someone made unsafe with fields we do not manage.

        Server-side apply (and so :func:`drift`) only sees our own fields: a root sidecar
        container, ``hostPID`` or ``capabilities.add`` added by another manager would survive
        every apply. When the live template fails the policy the desired one passes, it is
        replaced whole (a JSON patch: RBAC grants patch, not update) and reported as drift.
        """
        if desired["kind"] not in WORKLOAD_KINDS:
            return
        key = (desired["kind"], desired["metadata"]["name"])
        current = live.get(key)
        if current is None:
            return
        violations = review_object(current, "restricted")
        if not violations:
            return
        resource, name = for_object(desired), desired["metadata"]["name"]
        patch = [{"op": "replace", "path": "/spec/template", "value": desired["spec"]["template"]}]
        try:
            result = await self.client.patch(
                resource, hsvc["metadata"]["namespace"], name, patch, content_type=JSON_PATCH
            )
        except ApiError as exc:
            log.warning("repair of %s failed: %s", _ref(desired), exc)
            outcome.api_failed(_ref(desired), exc)
            return
        result.setdefault("kind", desired["kind"])
        live[key] = result
        self.cache.observe(result)
        outcome.applied.append(_ref(desired))
        outcome.drifted.append(_ref(desired))
        m.DRIFT_CORRECTIONS.labels(desired["kind"]).inc()
        await self.client.post_event(
            hsvc,
            reason="DriftCorrected",
            message=f"{_ref(desired)} was made unsafe outside the operator "
            f"({'; '.join(v.describe() for v in violations[:3])}); restored its pod template",
            type_="Warning",
        )

    async def _record(
        self,
        hsvc: Mapping[str, Any],
        obj: Mapping[str, Any],
        current: Any,
        paths: list[str],
        result: Any,
        live: dict[tuple[str, str], Any],
        outcome: Outcome,
        settled: bool,
    ) -> None:
        """Book one apply's answer: cache it, or keep the first failure for Degraded."""
        if isinstance(result, BaseException):
            if not isinstance(result, ApiError):
                raise result
            log.warning("apply %s failed: %s", _ref(obj), result)
            outcome.api_failed(_ref(obj), result)
            return
        live[(obj["kind"], obj["metadata"]["name"])] = result
        self.cache.observe(result)
        outcome.applied.append(_ref(obj))
        if current is not None and settled:
            # Spec unchanged since we last reported it, yet the object differs: someone
            # else changed fields we manage. Put back (done) and say so.
            outcome.drifted.append(_ref(obj))
            m.DRIFT_CORRECTIONS.labels(obj["kind"]).inc()
            await self.client.post_event(
                hsvc,
                reason="DriftCorrected",
                message=f"{_ref(obj)} was changed outside the operator "
                f"({', '.join(paths[:5])}); restored the managed fields",
                type_="Warning",
            )

    async def _delete_stale(
        self,
        hsvc: Mapping[str, Any],
        desired: Sequence[Mapping[str, Any]],
        live: dict[tuple[str, str], Any],
        outcome: Outcome,
    ) -> None:
        """Delete what we generated before but no longer want (a debug Deployment switched off,
        a Service whose ports went away). Never PVCs: data goes only with the owner, by GC."""
        if outcome.failure and not desired:
            return  # an invalid spec says nothing about what should not exist
        wanted = {(o["kind"], o["metadata"]["name"]) for o in desired}
        uid = hsvc["metadata"]["uid"]
        for key, obj in list(live.items()):
            if obj is None or key in wanted or key[0] == "PersistentVolumeClaim":
                continue
            if uid not in owner_uids(obj):
                continue  # not ours (same labels, other owner): leave it alone
            try:
                await self.client.delete(for_object(obj), hsvc["metadata"]["namespace"], key[1])
            except ApiError as exc:
                log.warning("delete of stale %s/%s failed: %s", key[0], key[1], exc)
                continue
            self.cache.remove(obj)
            live[key] = None
            outcome.deleted.append(f"{key[0]}/{key[1]}")

    def _spawn(self, key: Key) -> None:
        task = asyncio.get_running_loop().create_task(self.trigger(*key))
        self._tasks.add(task)  # keep a reference until done, or the loop may drop it
        task.add_done_callback(self._tasks.discard)

    async def _after(self, hsvc: Mapping[str, Any], outcome: Outcome) -> None:
        """Failures: one Warning event per distinct problem, and a retry with backoff."""
        meta = hsvc["metadata"]
        key = (meta["namespace"], meta["name"])
        state = self._keys.setdefault(key, _KeyState())
        if state.retry:
            state.retry.cancel()
            state.retry = None
        if outcome.failure is None:
            state.failures, state.last_warning = 0, ""
            return
        state.failures += 1
        delay = min(self._max_backoff, 2.0 ** min(state.failures, 12))
        loop = asyncio.get_running_loop()
        state.retry = loop.call_later(delay, self._spawn, key)
        failure = outcome.failure
        if failure.message != state.last_warning:
            state.last_warning = failure.message
            await self.client.post_event(
                hsvc,
                reason=failure.condition_reason,
                message=f"{failure.object_ref}: {failure.message}",
                type_="Warning",
            )
