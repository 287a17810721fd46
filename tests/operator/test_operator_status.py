"""Status computation: owned objects in, status dict out (pure, fixed clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hardened_operator.controller import status as st

T0 = dt.datetime(2026, 11, 28, 8, 0, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)


def hsvc(generation: int = 3, conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "web", "namespace": "ns", "generation": generation}}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
    return obj


DESIRED = [
    {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}},
    {"kind": "PersistentVolumeClaim", "metadata": {"name": "web-data"}},
    {"kind": "PersistentVolumeClaim", "metadata": {"name": "web-cache"}},
    {"kind": "Service", "metadata": {"name": "web"}},
]


def deployment(ready: int, *, observed: int = 1, generation: int = 1) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "status": {
            "observedGeneration": observed,
            "replicas": 2,
            "readyReplicas": ready,
            "updatedReplicas": 2,
        },
    }


def live(dep: dict[str, Any] | None, *, pvc_phase: str = "Pending") -> dict[Any, Any]:
    pvc = {"status": {"phase": pvc_phase}}
    return {
        ("Deployment", "web"): dep,
        ("PersistentVolumeClaim", "web-data"): pvc,
        ("PersistentVolumeClaim", "web-cache"): pvc,
        ("Service", "web"): {},
    }


def conds(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_no_ready_replicas_is_progressing_not_ready() -> None:
    status = st.compute(hsvc(), DESIRED, live(deployment(0)), now=T0)
    c = conds(status)
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("False", "WaitingForReplicas")
    assert (c["Progressing"]["status"], c["Degraded"]["status"]) == ("True", "False")
    assert status["observedGeneration"] == 3
    assert all(x["observedGeneration"] == 3 for x in status["conditions"])
    assert (status["replicas"], status["readyReplicas"]) == (2, 0)
    assert "0/2 replicas ready" in status["message"]
    assert status["volumes"] == [
        {"name": "cache", "claimName": "web-cache", "phase": "Pending"},
        {"name": "data", "claimName": "web-data", "phase": "Pending"},
    ]


def test_all_replicas_ready_is_ready() -> None:
    status = st.compute(hsvc(), DESIRED, live(deployment(2), pvc_phase="Bound"), now=T0)
    c = conds(status)
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("True", "ReplicasReady")
    assert (c["Progressing"]["status"], c["Degraded"]["status"]) == ("False", "False")
    assert status["message"].startswith("Ready: 2/2 replicas ready")


def test_unobserved_rollout_is_not_ready_even_with_ready_pods() -> None:
    status = st.compute(hsvc(), DESIRED, live(deployment(2, observed=1, generation=2)), now=T0)
    assert conds(status)["Ready"]["reason"] == "RolloutPending"


def test_missing_objects_are_named() -> None:
    status = st.compute(hsvc(), DESIRED, live(None), now=T0)
    ready = conds(status)["Ready"]
    assert ready["reason"] == "Applying" and "Deployment/web" in ready["message"]


def test_last_transition_time_moves_only_on_flip() -> None:
    first = st.compute(hsvc(), DESIRED, live(deployment(0)), now=T0)
    # Same state later: identical dict, so the controller skips the write.
    again = st.compute(hsvc(conditions=first["conditions"]), DESIRED, live(deployment(0)), now=T1)
    assert again == first
    assert st.same({**first, "extra": 1}, again)
    # Ready flips: its time moves, Degraded (still False) keeps T0.
    flipped = st.compute(hsvc(conditions=first["conditions"]), DESIRED, live(deployment(2)), now=T1)
    c = conds(flipped)
    assert c["Ready"]["lastTransitionTime"] == "2026-11-28T08:05:00Z"
    assert c["Progressing"]["lastTransitionTime"] == "2026-11-28T08:05:00Z"
    assert c["Degraded"]["lastTransitionTime"] == "2026-11-28T08:00:00Z"
    assert not st.same(first, flipped)


@pytest.mark.parametrize(
    ("status", "reason", "message", "expected"),
    [
        (
            403,
            "Forbidden",
            'persistentvolumeclaims "x" is forbidden: exceeded quota: q',
            "QuotaExceeded",
        ),
        (422, "Invalid", "quantities must match the regular expression", "InvalidObject"),
        (403, "Forbidden", "User cannot create resource", "Forbidden"),
        (503, "ServiceUnavailable", "etcd down", "ApiUnavailable"),
        (429, "TooManyRequests", "too many requests, retries exhausted", "ApiUnavailable"),
        (None, "Timeout", "POST /apis/apps/v1/...: TimeoutError", "ApplyFailed"),
        (400, "BadRequest", "nonsense", "ApplyFailed"),
    ],
)
def test_apply_failure_degrades_with_reason(
    status: int | None, reason: str, message: str, expected: str
) -> None:
    failure = st.ApplyFailure("PersistentVolumeClaim/web-data", status, reason, message)
    result = st.compute(hsvc(), DESIRED, live(deployment(2)), now=T0, failure=failure)
    c = conds(result)
    assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("True", expected)
    assert message in c["Degraded"]["message"]
    assert c["Ready"]["status"] == "False" and c["Progressing"]["status"] == "False"
    assert result["message"].startswith(f"Degraded ({expected})")


def test_stuck_rollout_and_lost_volume_degrade() -> None:
    dep = deployment(0)
    dep["status"]["conditions"] = [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet web-1 has timed out progressing.",
        }
    ]
    c = conds(st.compute(hsvc(), DESIRED, live(dep), now=T0))
    assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("True", "RolloutStuck")
    c = conds(st.compute(hsvc(), DESIRED, live(deployment(2), pvc_phase="Lost"), now=T0))
    assert (c["Degraded"]["reason"], c["Ready"]["status"]) == ("VolumeLost", "False")


def test_status_matches_the_crd_model() -> None:
    from hardened_operator.model import HardenedServiceStatus

    status = st.compute(hsvc(), DESIRED, live(None), now=T0)
    parsed = HardenedServiceStatus.model_validate(status)
    assert parsed.model_dump(exclude_none=True, mode="json") == status


# ---- what the pods say -----------------------------------------------------------------------

SELECTOR = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/instance": "web",
    "app.kubernetes.io/component": "workload",
}
WITH_SELECTOR: list[dict[str, Any]] = [
    {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": SELECTOR}},
    },
    *DESIRED[1:],
]


def kubelet_pod(name: str, container_status: dict[str, Any], component: str = "workload") -> Any:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {**SELECTOR, "app.kubernetes.io/component": component},
        },
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                {"name": "app", "ready": False, "restartCount": 0, **container_status}
            ],
        },
    }


def pull(reason: str) -> dict[str, Any]:
    message = (
        'Back-off pulling image "nosuch:1"'
        if reason == "ImagePullBackOff"
        else 'failed to pull and unpack image "docker.io/library/nosuch:1": not found'
    )
    return {"state": {"waiting": {"reason": reason, "message": message}}}


def unschedulable(name: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "labels": SELECTOR},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu.",
                }
            ],
        },
    }


def test_unschedulable_pod_is_ready_false_and_degraded_with_the_schedulers_words() -> None:
    status = st.compute(
        hsvc(), WITH_SELECTOR, live(deployment(0)), now=T0, pods=[unschedulable("web-1")]
    )
    c = conds(status)
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("False", "Unschedulable")
    assert (c["Degraded"]["status"], c["Degraded"]["reason"]) == ("True", "Unschedulable")
    assert (c["Progressing"]["status"], c["Progressing"]["reason"]) == ("False", "Unschedulable")
    assert "0/1 nodes are available: 1 Insufficient nvidia.com/gpu" in c["Ready"]["message"]
    assert c["Ready"]["message"].startswith("0/2 replicas ready; pod web-1")
    assert status["message"].startswith("Degraded (Unschedulable): 0/2 replicas ready")


def test_soft_pod_problem_is_the_ready_reason_while_still_progressing() -> None:
    pods = [kubelet_pod("web-1", pull("ErrImagePull"))]
    c = conds(st.compute(hsvc(), WITH_SELECTOR, live(deployment(0)), now=T0, pods=pods))
    assert (c["Ready"]["status"], c["Ready"]["reason"]) == ("False", "ErrImagePull")
    assert 'container "app" of pod web-1' in c["Ready"]["message"]
    assert (c["Progressing"]["status"], c["Progressing"]["reason"]) == (
        "True",
        "WaitingForReplicas",
    )
    assert c["Degraded"]["status"] == "False"


def test_only_the_workload_pods_count_and_only_while_not_ready() -> None:
    debug = kubelet_pod("web-debug-1", pull("ImagePullBackOff"), component="debug")
    c = conds(st.compute(hsvc(), WITH_SELECTOR, live(deployment(0)), now=T0, pods=[debug]))
    assert c["Ready"]["reason"] == "WaitingForReplicas"
    # The Deployment says every replica is ready: a failing surplus pod changes nothing.
    failing = kubelet_pod("web-9", pull("ImagePullBackOff"))
    c = conds(st.compute(hsvc(), WITH_SELECTOR, live(deployment(2)), now=T0, pods=[failing]))
    assert c["Ready"]["reason"] == "ReplicasReady"


def test_image_pull_flapping_keeps_degraded_and_its_transition_time() -> None:
    first = st.compute(
        hsvc(),
        WITH_SELECTOR,
        live(deployment(0)),
        now=T0,
        pods=[kubelet_pod("web-1", pull("ErrImagePull"))],
    )
    back_off = st.compute(
        hsvc(conditions=first["conditions"]),
        WITH_SELECTOR,
        live(deployment(0)),
        now=T1,
        pods=[kubelet_pod("web-1", pull("ImagePullBackOff"))],
    )
    c = conds(back_off)
    assert (c["Degraded"]["status"], c["Ready"]["reason"]) == ("True", "ImagePullBackOff")
    assert c["Degraded"]["lastTransitionTime"] == "2026-11-28T08:05:00Z"  # flipped
    assert c["Ready"]["lastTransitionTime"] == "2026-11-28T08:00:00Z"  # False all along
    # The kubelet retries: ErrImagePull again. Still Degraded, same reason, time kept.
    t2 = T1 + dt.timedelta(minutes=5)
    retry = st.compute(
        hsvc(conditions=back_off["conditions"]),
        WITH_SELECTOR,
        live(deployment(0)),
        now=t2,
        pods=[kubelet_pod("web-1", pull("ErrImagePull"))],
    )
    r = conds(retry)
    assert (r["Degraded"]["status"], r["Degraded"]["reason"]) == ("True", "ImagePullBackOff")
    assert r["Degraded"]["lastTransitionTime"] == c["Degraded"]["lastTransitionTime"]
    assert st.pod_event(back_off, retry) is None  # same reason: no second Event


def test_pod_problem_recomputed_unchanged_is_identical_so_no_write() -> None:
    pods = [unschedulable("web-1"), unschedulable("web-2")]
    first = st.compute(hsvc(), WITH_SELECTOR, live(deployment(0)), now=T0, pods=pods)
    again = st.compute(
        hsvc(conditions=first["conditions"]), WITH_SELECTOR, live(deployment(0)), now=T1, pods=pods
    )
    assert again == first and st.same(first, again)
    assert st.pod_event(first, again) is None


def test_pod_event_once_per_reason_change() -> None:
    waiting = st.compute(hsvc(), WITH_SELECTOR, live(deployment(0)), now=T0)
    assert st.pod_event(None, waiting) is None  # WaitingForReplicas is no pod problem
    stuck = st.compute(
        hsvc(conditions=waiting["conditions"]),
        WITH_SELECTOR,
        live(deployment(0)),
        now=T1,
        pods=[unschedulable("web-1")],
    )
    event = st.pod_event(waiting, stuck)
    assert event is not None
    assert event[0] == "Unschedulable" and "Insufficient nvidia.com/gpu" in event[1]
    # Another pod with the same reason: the message changes, the reason does not: no Event.
    more = st.compute(
        hsvc(conditions=stuck["conditions"]),
        WITH_SELECTOR,
        live(deployment(0)),
        now=T1,
        pods=[unschedulable("web-1"), unschedulable("web-2")],
    )
    assert more != stuck and st.pod_event(stuck, more) is None
    # A different problem is a new reason: one Event.
    pulled = st.compute(
        hsvc(conditions=more["conditions"]),
        WITH_SELECTOR,
        live(deployment(0)),
        now=T1,
        pods=[kubelet_pod("web-1", pull("ImagePullBackOff"))],
    )
    assert st.pod_event(more, pulled) == ("ImagePullBackOff", conds(pulled)["Ready"]["message"])


def test_apply_failure_outranks_what_the_pods_say() -> None:
    failure = st.ApplyFailure("Deployment/web", 403, "Forbidden", "User cannot patch")
    c = conds(
        st.compute(
            hsvc(),
            WITH_SELECTOR,
            live(deployment(0)),
            now=T0,
            failure=failure,
            pods=[unschedulable("web-1")],
        )
    )
    assert c["Degraded"]["reason"] == "Forbidden"


# lastTransitionTime moves only when a condition's status flips, not on a new reason or
# message.
T2 = T0 + dt.timedelta(minutes=9)
ONE_DEPLOYMENT = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}}]


def owner(conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "web", "namespace": "ns", "generation": 1}}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
    return obj


def one_deployment_live(ready: int) -> dict[Any, Any]:
    dep = {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": 1},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "readyReplicas": ready,
            "updatedReplicas": 1,
        },
    }
    return {("Deployment", "web"): dep}


def by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_new_reason_without_a_flip_keeps_the_transition_time() -> None:
    quota = st.ApplyFailure("Deployment/web", 403, "Forbidden", "exceeded quota: q")
    first = st.compute(owner(), ONE_DEPLOYMENT, one_deployment_live(0), now=T0, failure=quota)
    assert by_type(first)["Degraded"]["reason"] == "QuotaExceeded"
    invalid = st.ApplyFailure("Deployment/web", 422, "Invalid", "bad quantity")
    later = st.compute(
        owner(first["conditions"]), ONE_DEPLOYMENT, one_deployment_live(0), now=T1, failure=invalid
    )
    degraded = by_type(later)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidObject")
    assert degraded["lastTransitionTime"] == "2026-11-28T08:00:00Z"  # still True: no flip
    assert not st.same(first, later)  # the new reason is written, though


def test_each_flip_and_flip_back_moves_the_time() -> None:
    a = st.compute(owner(), ONE_DEPLOYMENT, one_deployment_live(0), now=T0)
    b = st.compute(owner(a["conditions"]), ONE_DEPLOYMENT, one_deployment_live(1), now=T1)
    c = st.compute(owner(b["conditions"]), ONE_DEPLOYMENT, one_deployment_live(0), now=T2)
    times = [by_type(s)["Ready"]["lastTransitionTime"] for s in (a, b, c)]
    assert times == ["2026-11-28T08:00:00Z", "2026-11-28T08:05:00Z", "2026-11-28T08:09:00Z"]
    assert [by_type(s)["Ready"]["status"] for s in (a, b, c)] == ["False", "True", "False"]
