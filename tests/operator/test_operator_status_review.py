"""lastTransitionTime moves only when a condition's status flips -- not on a new reason or
message -- and the status of a HardenedService is a pure function of what is observed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hardened_operator.controller import status as st

T0 = dt.datetime(2026, 11, 28, 8, 0, 0, tzinfo=dt.UTC)
T1, T2 = T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=9)
DESIRED = [{"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 1}}]


def owner(conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "web", "namespace": "ns", "generation": 1}}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
    return obj


def live(ready: int) -> dict[Any, Any]:
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
    first = st.compute(owner(), DESIRED, live(0), now=T0, failure=quota)
    assert by_type(first)["Degraded"]["reason"] == "QuotaExceeded"
    invalid = st.ApplyFailure("Deployment/web", 422, "Invalid", "bad quantity")
    later = st.compute(owner(first["conditions"]), DESIRED, live(0), now=T1, failure=invalid)
    degraded = by_type(later)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "InvalidObject")
    assert degraded["lastTransitionTime"] == "2026-11-28T08:00:00Z"  # still True: no flip
    assert not st.same(first, later)  # the new reason is written, though


def test_each_flip_and_flip_back_moves_the_time() -> None:
    a = st.compute(owner(), DESIRED, live(0), now=T0)
    b = st.compute(owner(a["conditions"]), DESIRED, live(1), now=T1)
    c = st.compute(owner(b["conditions"]), DESIRED, live(0), now=T2)
    times = [by_type(s)["Ready"]["lastTransitionTime"] for s in (a, b, c)]
    assert times == ["2026-11-28T08:00:00Z", "2026-11-28T08:05:00Z", "2026-11-28T08:09:00Z"]
    assert [by_type(s)["Ready"]["status"] for s in (a, b, c)] == ["False", "True", "False"]
