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
        (400, "BadRequest", "nonsense", "ApplyFailed"),
    ],
)
def test_apply_failure_degrades_with_reason(
    status: int, reason: str, message: str, expected: str
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
