"""A HardenedService's status from the objects it owns (pure: objects in, status dict out).

Conditions follow the Kubernetes API conventions: ``Ready``, ``Progressing`` and ``Degraded``,
each with ``status``, ``reason``, ``message``, ``observedGeneration`` and a
``lastTransitionTime`` that moves only when the condition's status flips -- so recomputing an
unchanged state yields an identical dict, and the controller can skip the status write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hardened_operator.builders import WORKLOAD_KINDS
from hardened_operator.controller import pods as pod_logic
from hardened_operator.errors import ApiError, ForbiddenError, InvalidError, TransientApiError
from hardened_operator.k8s.statuses import error_type

CONDITION_TYPES = ("Ready", "Progressing", "Degraded")
WARNINGS_CONDITION = "SpecWarnings"
# The Degraded reason for each kind of failed API call; which status is which kind is
# k8s/statuses.py's table (so 5xx and 429, both transient there, are ApiUnavailable here).
API_FAILURE_REASONS: Final[dict[type[ApiError], str]] = {
    InvalidError: "InvalidObject",
    ForbiddenError: "Forbidden",
    TransientApiError: "ApiUnavailable",
}


@dataclass(frozen=True)
class ApplyFailure:
    """Why the last apply of an owned object failed (kept for the Degraded condition)."""

    object_ref: str  # "Deployment/web"
    status: int | None
    reason: str | None
    message: str

    @property
    def condition_reason(self) -> str:
        if self.reason in ("InvalidSpec", "NotOwned", "PolicyViolation"):
            return self.reason
        kind = error_type(self.status)
        text = self.message.lower()
        if "exceeded quota" in text or ("quota" in text and kind is ForbiddenError):
            return "QuotaExceeded"
        return API_FAILURE_REASONS.get(kind, "ApplyFailed")


def timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def compute(
    hsvc: Mapping[str, Any],
    desired: Sequence[Mapping[str, Any]],
    live: Mapping[tuple[str, str], Mapping[str, Any] | None],
    *,
    now: dt.datetime,
    failure: ApplyFailure | None = None,
    pods: Sequence[Mapping[str, Any]] = (),
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The status ``hsvc`` should carry, given its ``desired`` objects and what ``live`` holds.

    ``live`` maps ``(kind, name)`` to the object as last seen (None: absent); ``pods`` are the
    pods seen with this HardenedService's labels (only the workload Deployment's count): while
    the replicas are not ready, what they say (:mod:`.pods`) becomes the Ready reason, and a
    hard problem (ImagePullBackOff, CrashLoopBackOff, Unschedulable, ...) makes it Degraded.
    ``warnings`` (risky but legal spec choices) become the ``SpecWarnings`` condition, present
    only while there are some.
    """
    meta = hsvc.get("metadata", {})
    name, generation = meta.get("name", ""), meta.get("generation")
    previous = {c.get("type"): c for c in (hsvc.get("status") or {}).get("conditions") or []}

    deployment = live.get((_workload_kind(desired, name), name))
    wanted = _wanted_replicas(desired, name)
    dstatus = (deployment or {}).get("status") or {}
    replicas = int(dstatus.get("replicas") or 0)
    ready = int(dstatus.get("readyReplicas") or 0)
    updated = int(dstatus.get("updatedReplicas") or 0)
    rolled_out = deployment is not None and int(dstatus.get("observedGeneration") or 0) >= int(
        (deployment.get("metadata") or {}).get("generation") or 0
    )
    volumes = _volumes(name, desired, live)
    missing = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for obj in desired
        if live.get((obj["kind"], obj["metadata"]["name"])) is None
    ]
    stuck = _deployment_stuck(dstatus)
    lost = [v["name"] for v in volumes if v["phase"] == "Lost"]
    counts = f"{ready}/{wanted} replicas ready"
    replicas_ready = not missing and rolled_out and ready >= wanted and updated >= wanted
    problem = None
    if not replicas_ready and rolled_out:
        problem = pod_logic.pod_problem(
            pod_logic.selected(pods, _workload_selector(desired, name)),
            previous_reason=(previous.get("Ready") or {}).get("reason"),
        )

    if failure is not None:
        degraded = (
            True,
            failure.condition_reason,
            f"applying {failure.object_ref} failed: {failure.message}",
        )
    elif problem is not None and problem.hard:
        # Before RolloutStuck: the Deployment's progress deadline (10 min by default) passes
        # because of this, and the pods' reason says what to fix.
        degraded = (True, problem.reason, f"{counts}; {problem.message}")
    elif stuck:
        degraded = (True, "RolloutStuck", stuck)
    elif lost:
        degraded = (True, "VolumeLost", f"persistent volume lost for: {', '.join(lost)}")
    else:
        degraded = (False, "AsExpected", "all owned objects applied")

    is_ready = not degraded[0] and replicas_ready
    if is_ready:
        ready_c = (True, "ReplicasReady", counts)
        progressing = (False, "RolloutComplete", counts)
    elif degraded[0]:
        ready_c = (False, degraded[1], degraded[2])
        progressing = (False, degraded[1], degraded[2])
    elif missing:
        ready_c = (False, "Applying", f"waiting for {', '.join(missing)}")
        progressing = (True, "Applying", f"waiting for {', '.join(missing)}")
    elif not rolled_out:
        pending = f"{counts}; the Deployment controller has not observed the latest spec yet"
        ready_c = (False, "RolloutPending", pending)
        progressing = (True, "RolloutPending", counts)
    elif problem is not None:  # a slow rollout: say what the pods are waiting for
        ready_c = (False, problem.reason, f"{counts}; {problem.message}")
        progressing = (True, "WaitingForReplicas", counts)
    else:
        ready_c = (False, "WaitingForReplicas", counts)
        progressing = (True, "WaitingForReplicas", counts)

    conditions = [
        _condition(kind, state, generation, previous.get(kind), now)
        for kind, state in zip(CONDITION_TYPES, (ready_c, progressing, degraded), strict=True)
    ]
    if warnings:
        state = (True, "RiskySpec", "; ".join(warnings))
        conditions.append(
            _condition(WARNINGS_CONDITION, state, generation, previous.get(WARNINGS_CONDITION), now)
        )
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "replicas": replicas,
        "selector": _selector_text(_workload_selector(desired, name)),
        "readyReplicas": ready,
        "conditions": conditions,
        "volumes": volumes,
        "message": _message(ready_c, degraded, counts, volumes),
    }
    return status


def _workload_kind(desired: Sequence[Mapping[str, Any]], name: str) -> str:
    """Deployment or StatefulSet: the kind of the workload named like the HardenedService."""
    for obj in desired:
        if obj.get("kind") in WORKLOAD_KINDS and obj["metadata"]["name"] == name:
            return str(obj["kind"])
    return "Deployment"


def _wanted_replicas(desired: Sequence[Mapping[str, Any]], name: str) -> int:
    for obj in desired:
        if obj.get("kind") in WORKLOAD_KINDS and obj["metadata"]["name"] == name:
            replicas = (obj.get("spec") or {}).get("replicas")
            return 1 if replicas is None else int(replicas)
    return 0


def _workload_selector(desired: Sequence[Mapping[str, Any]], name: str) -> dict[str, str]:
    for obj in desired:
        if obj.get("kind") in WORKLOAD_KINDS and obj["metadata"]["name"] == name:
            selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels")
            return dict(selector or {})
    return {}


def _selector_text(labels: Mapping[str, str]) -> str:
    """``k=v,k=v``: the form the ``/scale`` subresource reports (``labelSelectorPath``)."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _volumes(
    name: str,
    desired: Sequence[Mapping[str, Any]],
    live: Mapping[tuple[str, str], Mapping[str, Any] | None],
) -> list[dict[str, str]]:
    out = []
    for obj in desired:
        if obj.get("kind") != "PersistentVolumeClaim":
            continue
        claim = obj["metadata"]["name"]
        pvc = live.get(("PersistentVolumeClaim", claim))
        phase = ((pvc or {}).get("status") or {}).get("phase") or ("Pending" if pvc else "Missing")
        volume = claim[len(name) + 1 :] if claim.startswith(f"{name}-") else claim
        out.append({"name": volume, "claimName": claim, "phase": phase})
    return sorted(out, key=lambda v: v["name"])


def _deployment_stuck(dstatus: Mapping[str, Any]) -> str:
    for cond in dstatus.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return str(cond.get("message") or "rollout exceeded its progress deadline")
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return str(cond.get("message") or "the Deployment cannot create its pods")
    return ""


def _condition(
    kind: str,
    state: tuple[bool, str, str],
    generation: Any,
    previous: Mapping[str, Any] | None,
    now: dt.datetime,
) -> dict[str, Any]:
    value = "True" if state[0] else "False"
    flipped = previous is None or previous.get("status") != value
    return {
        "type": kind,
        "status": value,
        "reason": state[1],
        "message": state[2],
        "observedGeneration": generation,
        "lastTransitionTime": timestamp(now)
        if flipped or not previous
        else previous.get("lastTransitionTime") or timestamp(now),
    }


def _message(
    ready: tuple[bool, str, str],
    degraded: tuple[bool, str, str],
    counts: str,
    volumes: Sequence[Mapping[str, str]],
) -> str:
    if degraded[0]:
        head = f"Degraded ({degraded[1]}): {degraded[2]}"
    elif ready[0]:
        head = f"Ready: {counts}"
    else:
        head = f"Not ready ({ready[1]}): {ready[2]}"
    if volumes:
        head += "; volumes: " + ", ".join(f"{v['name']} {v['phase']}" for v in volumes)
    return head


def same(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> bool:
    """Whether the live status ``a`` already says everything ``b`` says (skip the write)."""
    if a is None:
        return False
    return all(a.get(key) == value for key, value in b.items())


def pod_event(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[str, str] | None:
    """(reason, message) of the Warning Event to record when ``after``'s Ready reason is a pod
    problem that ``before`` did not report yet -- once per change, never on a resync (an
    unchanged status gives None)."""
    new = _ready_condition(after)
    reason = str(new.get("reason") or "")
    if reason not in pod_logic.REASONS or reason == _ready_condition(before).get("reason"):
        return None
    return reason, str(new.get("message") or "")


def _ready_condition(status: Mapping[str, Any] | None) -> Mapping[str, Any]:
    for cond in (status or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}
