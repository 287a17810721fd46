"""One cluster object → what its namespace's report says about it (pure).

Which objects are judged: ``workloads.judged_as``, the rule ``hardened audit`` follows for a
cluster and for files -- an object whose controlling owner is judged is judged through it (a
Deployment's ReplicaSets and their Pods, a CronJob's Jobs, a HardenedService's Deployment),
so a failure is reported once, at the top owner; an owned Pod is still judged for its
ephemeral containers (``kubectl debug`` adds them to the Pod, never to its owner), and
reported on that Pod.

"Its owner is judged" is decided here by the owner's kind: the operator watches every
pod-bearing kind in every namespace it reports on (its RBAC is the chart's, tested to be
enough), so an owner of a pod-bearing kind is an object it judges. The audit cannot assume
that -- a user's RBAC may forbid Deployments -- and decides by the uids it actually read.

The decisions are ``workloads.review_object``'s, the webhook's and the audit's: the same
profile gives the same violations. An object of the wrong shape cannot be judged and is
reported as an error (``invalid-object``, the audit's name for it), never passed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from hardened_operator.audit.report import INVALID
from hardened_operator.errors import InputError
from hardened_operator.policy.types import Profile, Violation
from hardened_operator.workloads import ControllerRef, Judged, judged_as, review_judged

INVALID_OBJECT: Final = INVALID
_MESSAGE_CHARS: Final = 512  # of one result's message; the report's size bound relies on it
_FIELDS_CHARS: Final = 512  # of the "fields" property
_FIX_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class CheckFailure:
    """One failing check of one object: a result of the report."""

    check: str
    status: Literal["fail", "error"]
    message: str
    fields: str  # the failing fields, comma-separated (bounded)
    fix: str  # how to fix the first one (bounded)


@dataclass(frozen=True, slots=True)
class ObjectFindings:
    """An object that fails, and how: what the controller keeps in memory per object."""

    api_version: str
    kind: str
    name: str
    uid: str
    failures: tuple[CheckFailure, ...]


def owner_watched(ref: ControllerRef) -> bool:
    """The owner is of a pod-bearing kind: the operator watches and judges every one."""
    return ref.pod_bearing


def _bounded(text: str, limit: int) -> str:
    """At most ``limit`` characters; interned: the failures of a thousand Pods made alike
    share their texts (the operator keeps them for every failing object)."""
    return sys.intern(text if len(text) <= limit else text[: limit - 1] + "…")


def _failures(violations: list[Violation]) -> tuple[CheckFailure, ...]:
    """One failure per check, in the order the checks first failed."""
    by_check: dict[str, list[Violation]] = {}
    for violation in violations:
        by_check.setdefault(violation.check, []).append(violation)
    failures = []
    for check, found in by_check.items():
        messages = list(dict.fromkeys(v.message for v in found))
        fields = list(dict.fromkeys(v.field for v in found))
        failures.append(
            CheckFailure(
                check=sys.intern(check),
                status="fail",
                message=_bounded("; ".join(messages), _MESSAGE_CHARS),
                fields=_bounded(", ".join(fields), _FIELDS_CHARS),
                fix=_bounded(found[0].fix, _FIX_CHARS),
            )
        )
    return tuple(failures)


def findings_for(obj: Mapping[str, Any], profile: Profile) -> ObjectFindings | None:
    """What the report says about ``obj``; None when nothing (compliant, judged through its
    owner, not ours).

    ``obj`` is an object as the API serves it (``kind``/``apiVersion`` set by the caller for
    list items). Raises ``PolicyError`` for an unknown profile, like ``review_object``.
    """
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(kind, str) or not isinstance(meta, Mapping):
        return None
    judged = judged_as(obj, owner_watched)
    if judged is Judged.THROUGH_OWNER:
        return None  # its owner is judged instead: same template
    try:
        violations = review_judged(obj, judged, profile)
    except InputError as error:
        failures: tuple[CheckFailure, ...] = (
            CheckFailure(
                check=INVALID_OBJECT,
                status="error",
                message=_bounded(f"cannot be judged: {error}", _MESSAGE_CHARS),
                fields=_bounded(str(getattr(error, "field", None) or ""), _FIELDS_CHARS),
                fix="",
            ),
        )
    else:
        failures = _failures(violations)
    if not failures:
        return None
    return ObjectFindings(
        api_version=sys.intern(str(obj.get("apiVersion") or "")),
        kind=sys.intern(kind),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        failures=failures,
    )
