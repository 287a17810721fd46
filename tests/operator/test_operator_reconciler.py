"""The reconciler with a recording fake API and a dict live view (no kopf, no cluster)."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from hardened_operator.builders import build_objects
from hardened_operator.controller.cache import Cache, owner_of
from hardened_operator.controller.reconciler import Outcome, Reconciler, with_owner
from hardened_operator.errors import ApiError, InputError

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def hsvc(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ai-system.io/v1alpha1",
        "kind": "HardenedService",
        "metadata": {
            "name": "web",
            "namespace": "ns",
            "uid": "u-1",
            "generation": 1,
            "resourceVersion": "10",
        },
        "spec": {"image": "ghcr.io/x/web:1", **spec},
    }


class FakeClient:
    """Records calls; applies succeed (echoing a resourceVersion) unless told to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.fail: dict[str, ApiError] = {}
        self.rv = 100
        self.owner: dict[str, Any] = hsvc()
        self.existing: dict[str, dict[str, Any]] = {}  # "Kind/name" -> object on the server
        self.gets: list[str] = []

    async def find(self, resource: Any, ns: str, name: str) -> dict[str, Any] | None:
        # The reconciler asks before creating what its cache does not know (never take over
        # an object someone else made); the calls list keeps to writes and status.
        ref = f"{resource.kind}/{name}"
        self.gets.append(ref)
        return copy.deepcopy(self.existing.get(ref))

    async def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        ref = f"{obj['kind']}/{obj['metadata']['name']}"
        self.calls.append(("apply", ref))
        if ref in self.fail:
            raise self.fail[ref]
        self.rv += 1
        result = copy.deepcopy(dict(obj))
        result["metadata"]["resourceVersion"] = str(self.rv)
        return result

    async def patch_status(self, resource: Any, ns: str, name: str, status: Any) -> dict[str, Any]:
        self.calls.append(("status", name))
        self.rv += 1
        obj = copy.deepcopy(self.owner)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["status"] = copy.deepcopy(dict(status))
        return obj

    async def delete(self, resource: Any, ns: str, name: str) -> None:
        self.calls.append(("delete", f"{resource.kind}/{name}"))

    async def post_event(self, involved: Any, *, reason: str, message: str, type_: str) -> None:
        self.events.append((reason, message))


def reconciler(
    owner: dict[str, Any],
    owned: list[dict[str, Any]] | None = None,
    client: FakeClient | None = None,
) -> tuple[Reconciler, FakeClient, Cache]:
    cache = Cache()
    cache.observe(owner)
    for obj in owned or []:
        cache.observe(obj)
    client = client or FakeClient()
    client.owner = owner
    return Reconciler(client, cache, build_objects, clock=lambda: NOW), client, cache  # type: ignore[arg-type]


def applied(client: FakeClient) -> list[str]:
    return [ref for verb, ref in client.calls if verb == "apply"]


def test_first_reconcile_applies_everything_then_nothing() -> None:
    owner = hsvc(ports=[{"name": "http", "containerPort": 8080}])
    rec, client, cache = reconciler(owner)
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    kinds = [ref.split("/")[0] for ref in outcome.applied]
    # Claims before the Deployment that mounts them.
    assert kinds == ["PersistentVolumeClaim"] * 4 + ["Service", "Deployment"]
    assert outcome.status_written and outcome.failure is None and outcome.drifted == []
    assert len(cache) == 7  # the answers went into the cache: the owner and its six objects

    # Our writes coming back through the watch are not news, and nothing is left to do.
    for obj in cache.owned("ns", "web"):
        assert not cache.observe(copy.deepcopy(dict(obj)))
    client.calls.clear()
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert client.calls == [] and outcome.applied == [] and not outcome.status_written


def test_drift_is_applied_and_reported_once_the_spec_was_settled() -> None:
    owner = hsvc()
    owned = [copy.deepcopy(o) for o in with_owner(build_objects(owner), owner)]
    dep = next(o for o in owned if o["kind"] == "Deployment")
    dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    owner["status"] = {"observedGeneration": 1}
    rec, client, _ = reconciler(owner, owned)
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert applied(client) == ["Deployment/web"]
    assert outcome.drifted == ["Deployment/web"]
    assert client.events[0][0] == "DriftCorrected"
    assert "spec.template.spec.securityContext.runAsUser" in client.events[0][1]


def test_a_spec_change_is_applied_without_a_drift_event() -> None:
    owner = hsvc()
    owned = [copy.deepcopy(o) for o in with_owner(build_objects(owner), owner)]
    owner["spec"]["image"] = "ghcr.io/x/web:2"
    owner["metadata"]["generation"] = 2
    owner["status"] = {"observedGeneration": 1}
    rec, client, _ = reconciler(owner, owned)
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert applied(client) == ["Deployment/web"]
    assert outcome.drifted == [] and client.events == []


@pytest.mark.parametrize(
    ("policy", "owned_pvcs"), [("Retain", False), ("Delete", True), (None, False)]
)
def test_owner_references_follow_the_reclaim_policy(policy: str | None, owned_pvcs: bool) -> None:
    owner = hsvc(**({"volumeReclaimPolicy": policy} if policy else {}))
    for obj in with_owner(build_objects(owner), owner):
        refs = obj["metadata"].get("ownerReferences")
        expected = obj["kind"] != "PersistentVolumeClaim" or owned_pvcs
        assert bool(refs) == expected, obj["kind"]
        if refs:
            assert refs == [{"apiVersion": "ai-system.io/v1alpha1", "kind": "HardenedService",
                             "name": "web", "uid": "u-1", "controller": True,
                             "blockOwnerDeletion": True}]  # fmt: skip
        assert owner_of(obj) == "web"


def test_apply_failure_degrades_keeps_going_and_schedules_a_retry() -> None:
    owner = hsvc()
    rec, client, cache = reconciler(owner)
    client.fail["PersistentVolumeClaim/web-data"] = ApiError(
        'persistentvolumeclaims "web-data" is forbidden: exceeded quota: q',
        status=403,
        reason="Forbidden",
    )

    async def run() -> Any:
        outcome = await rec.reconcile("ns", "web")
        state = rec._keys[("ns", "web")]
        assert state.retry is not None  # a retry is scheduled (2 s for the first failure)
        written = cache.hardened_service("ns", "web")["status"]  # type: ignore[index]
        rec.forget("ns", "web")  # cancels it
        return outcome, written

    outcome, status = asyncio.run(run())
    assert "Deployment/web" in outcome.applied  # the rest still applied
    assert outcome.failure is not None
    assert outcome.failure.condition_reason == "QuotaExceeded"
    assert [reason for reason, _ in client.events] == ["QuotaExceeded"]
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "QuotaExceeded")


def test_invalid_spec_is_degraded_and_nothing_is_applied_or_deleted() -> None:
    owner = hsvc()
    owned = [copy.deepcopy(o) for o in with_owner(build_objects(owner), owner)]

    def broken(_: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise InputError("spec.image: must not be empty")

    rec, client, cache = reconciler(owner, owned)
    rec = Reconciler(client, cache, broken, clock=lambda: NOW)  # type: ignore[arg-type]

    async def run() -> Any:
        try:
            return await rec.reconcile("ns", "web")
        finally:
            rec.forget("ns", "web")

    outcome = asyncio.run(run())
    assert applied(client) == [] and outcome.deleted == []
    assert outcome.failure is not None and outcome.failure.condition_reason == "InvalidSpec"


def test_stale_objects_we_own_are_deleted_but_never_claims() -> None:
    owner = hsvc(debug=True, ports=[{"containerPort": 80}], volumeReclaimPolicy="Delete")
    owned = [copy.deepcopy(o) for o in with_owner(build_objects(owner), owner)]
    assert {"Deployment/web-debug", "Service/web"} <= {
        f"{o['kind']}/{o['metadata']['name']}" for o in owned
    }
    stranger = copy.deepcopy(next(o for o in owned if o["kind"] == "Service"))
    stranger["metadata"]["name"] = "web-other"
    stranger["metadata"]["ownerReferences"] = []  # same labels, not ours
    now = hsvc(volumeReclaimPolicy="Delete", volumes={"models": {"enabled": False}})
    now["status"] = {"observedGeneration": 1}
    rec, client, _ = reconciler(now, [*owned, stranger])
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert sorted(outcome.deleted) == ["Deployment/web-debug", "Service/web"]
    assert ("delete", "Service/web-other") not in client.calls
    assert not any(ref.startswith("PersistentVolumeClaim") for _, ref in client.calls)


def test_trigger_coalesces_a_burst_into_few_reconciles() -> None:
    owner = hsvc()
    rec, _, _ = reconciler(owner)
    count = 0
    original = rec.reconcile

    async def counting(namespace: str, name: str) -> Outcome:
        nonlocal count
        count += 1
        await asyncio.sleep(0.01)
        return await original(namespace, name)

    rec.reconcile = counting  # type: ignore[method-assign]

    async def burst() -> None:
        await asyncio.gather(*(rec.trigger("ns", "web") for _ in range(50)))

    asyncio.run(burst())
    assert count == 2  # the one running, plus one more that sees everything after it


def test_cache_newer_wins_and_tracks_owners() -> None:
    cache = Cache()
    owner = hsvc()
    dep = with_owner(build_objects(owner), owner)[-1]
    dep["metadata"]["resourceVersion"] = "20"
    assert cache.observe(dep)
    older = copy.deepcopy(dep)
    older["metadata"]["resourceVersion"] = "19"
    assert not cache.observe(older) and not cache.observe(copy.deepcopy(dep))
    newer = copy.deepcopy(dep)
    newer["metadata"]["resourceVersion"] = "21"
    newer["metadata"]["managedFields"] = [{"manager": "x"}]
    assert cache.observe(newer)
    [stored] = cache.owned("ns", "web")
    assert (
        stored["metadata"]["resourceVersion"] == "21" and "managedFields" not in stored["metadata"]
    )
    cache.remove(newer)
    assert cache.owned("ns", "web") == [] and len(cache) == 0


@pytest.mark.parametrize(
    ("existing", "adopted"),
    [
        ({"labels": {"team": "shop"}}, False),  # a user's claim
        (  # another HardenedService's object (e.g. x's debug Deployment named x-debug)
            {
                "labels": {
                    "app.kubernetes.io/managed-by": "hardened-operator",
                    "app.kubernetes.io/instance": "other",
                },
                "ownerReferences": [{"kind": "HardenedService", "name": "other", "uid": "u-9"}],
            },
            False,
        ),
        (  # an earlier "web" (deleted, re-created): adopted, as the cache path does
            {
                "labels": {
                    "app.kubernetes.io/managed-by": "hardened-operator",
                    "app.kubernetes.io/instance": "web",
                },
                "ownerReferences": [{"kind": "HardenedService", "name": "web", "uid": "u-0"}],
            },
            True,
        ),
        (  # labelled like ours, but a foreign owner too
            {
                "labels": {
                    "app.kubernetes.io/managed-by": "hardened-operator",
                    "app.kubernetes.io/instance": "web",
                },
                "ownerReferences": [{"kind": "ReplicaSet", "name": "web", "uid": "u-7"}],
            },
            False,
        ),
        (  # kept under Retain from an earlier "web": the data comes back
            {
                "labels": {
                    "app.kubernetes.io/managed-by": "hardened-operator",
                    "app.kubernetes.io/instance": "web",
                }
            },
            True,
        ),
    ],
    ids=["users", "other-hsvc", "earlier-web", "foreign-owner", "retained"],
)
def test_an_existing_object_missing_from_the_cache_is_applied_only_when_ours(
    existing: dict[str, Any], adopted: bool
) -> None:
    owner = hsvc(volumeReclaimPolicy="Delete")
    rec, client, _ = reconciler(owner)
    client.existing["PersistentVolumeClaim/web-data"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "web-data", "namespace": "ns", **existing},
    }
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert ("PersistentVolumeClaim/web-data" in applied(client)) is adopted
    assert "Deployment/web" in applied(client)  # the rest still converges
    if adopted:
        assert outcome.failure is None
    else:
        assert outcome.failure is not None
        assert outcome.failure.condition_reason == "NotOwned"
        assert outcome.failure.object_ref == "PersistentVolumeClaim/web-data"


def test_a_generated_object_our_policy_refuses_is_never_applied() -> None:
    """The fail-closed net under the builders: a (hypothetical) builder bug that yields a root
    Deployment degrades the HardenedService instead of reaching the API server."""

    def root_builder(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
        objs = build_objects(obj)
        dep = next(o for o in objs if o["kind"] == "Deployment")
        dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
        return objs

    owner = hsvc()
    cache = Cache()
    cache.observe(owner)
    client = FakeClient()
    client.owner = owner
    rec = Reconciler(client, cache, root_builder, clock=lambda: NOW)  # type: ignore[arg-type]
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert "Deployment/web" not in applied(client)
    assert "PersistentVolumeClaim/web-data" in applied(client)  # the rest is safe to apply
    assert outcome.failure is not None
    assert outcome.failure.condition_reason == "PolicyViolation"
    assert "runAsUser" in outcome.failure.message
    assert ("delete", "Deployment/web") not in client.calls


# ---- pods: what they say reaches the status, an Event once per reason ------------------------


def kubelet_pod(owner: dict[str, Any], name: str, status: dict[str, Any], rv: int) -> Any:
    """A pod of the workload Deployment as the API returns it once the kubelet wrote status."""
    dep = next(o for o in build_objects(owner) if o["kind"] == "Deployment")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"pod-{name}",
            "resourceVersion": str(rv),
            "labels": {**dep["spec"]["template"]["metadata"]["labels"], "pod-template-hash": "6d9"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d9"}],
            "managedFields": [{"manager": "kubelet"}],
        },
        "spec": {"nodeName": "node-1", "containers": dep["spec"]["template"]["spec"]["containers"]},
        "status": status,
    }


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [
        {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
        }
    ],
}
CONFIG_ERROR = {
    "phase": "Pending",
    "conditions": [{"type": "PodScheduled", "status": "True"}],
    "containerStatuses": [
        {
            "name": "app",
            "ready": False,
            "restartCount": 0,
            "state": {
                "waiting": {
                    "reason": "CreateContainerConfigError",
                    "message": 'secret "db-creds" not found',
                }
            },
        }
    ],
}


def test_pods_are_cached_slim_and_apart_from_what_we_own() -> None:
    owner = hsvc()
    cache = Cache()
    pod = kubelet_pod(owner, "web-6d9-a", UNSCHEDULABLE, 50)
    assert cache.observe(pod) and owner_of(pod) == "web"
    (cached,) = cache.pods("ns", "web")
    assert "spec" not in cached and "managedFields" not in cached["metadata"]
    assert cached["status"] == UNSCHEDULABLE
    assert cache.owned("ns", "web") == []
    assert not cache.observe(copy.deepcopy(pod))  # the same resourceVersion: not news
    cache.remove(pod)
    assert cache.pods("ns", "web") == []


def test_pod_problem_sets_the_reason_with_one_event_and_idle_reconciles_write_nothing() -> None:
    owner = hsvc()
    rec, client, cache = reconciler(owner)
    asyncio.run(rec.reconcile("ns", "web"))
    client.calls.clear()

    cache.observe(kubelet_pod(owner, "web-6d9-a", UNSCHEDULABLE, 200))
    outcome = asyncio.run(rec.reconcile("ns", "web"))
    status = cache.hardened_service("ns", "web")["status"]  # type: ignore[index]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert (ready["status"], ready["reason"]) == ("False", "Unschedulable")
    assert (degraded["status"], degraded["reason"]) == ("True", "Unschedulable")
    assert client.calls == [("status", "web")] and outcome.pod_problem == "Unschedulable"
    assert len(client.events) == 1 and client.events[0][0] == "Unschedulable"
    assert "Insufficient nvidia.com/gpu" in client.events[0][1]
    # Not an apply failure: no retry timer, no "failed" verdict.
    assert outcome.failure is None

    # Resyncs with nothing new: no write, no Event.
    client.calls.clear()
    for _ in range(3):
        outcome = asyncio.run(rec.reconcile("ns", "web"))
    assert client.calls == [] and len(client.events) == 1 and outcome.pod_problem == ""

    # The scheduler places it; the kubelet cannot create the container: a new reason, one Event.
    cache.observe(kubelet_pod(owner, "web-6d9-a", CONFIG_ERROR, 201))
    asyncio.run(rec.reconcile("ns", "web"))
    asyncio.run(rec.reconcile("ns", "web"))
    assert [reason for reason, _ in client.events] == [
        "Unschedulable",
        "CreateContainerConfigError",
    ]
    assert 'secret "db-creds" not found' in client.events[1][1]

    # The pod goes (the user fixed the Secret and the ReplicaSet made a new, still-creating one).
    cache.remove(kubelet_pod(owner, "web-6d9-a", CONFIG_ERROR, 202))
    asyncio.run(rec.reconcile("ns", "web"))
    status = cache.hardened_service("ns", "web")["status"]  # type: ignore[index]
    reasons = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert reasons["Ready"] == ("False", "WaitingForReplicas")
    assert reasons["Degraded"] == ("False", "AsExpected")
    assert len(client.events) == 2  # getting better records no Warning


def test_a_failed_status_write_leaves_the_event_for_the_write_that_succeeds() -> None:
    owner = hsvc()
    rec, client, cache = reconciler(owner)
    asyncio.run(rec.reconcile("ns", "web"))
    cache.observe(kubelet_pod(owner, "web-6d9-a", UNSCHEDULABLE, 200))
    original = client.patch_status

    async def refuse(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ApiError("etcd down", status=503, reason="ServiceUnavailable")

    client.patch_status = refuse  # type: ignore[method-assign]
    asyncio.run(rec.reconcile("ns", "web"))
    assert [r for r, _ in client.events if r == "Unschedulable"] == []
    client.patch_status = original  # type: ignore[method-assign]
    asyncio.run(rec.reconcile("ns", "web"))
    assert [r for r, _ in client.events if r == "Unschedulable"] == ["Unschedulable"]
