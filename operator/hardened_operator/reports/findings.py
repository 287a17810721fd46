"""One cluster object → what its namespace's report says about it (pure).

Which findings are reported on which object: ``workloads.judged_as``, the rule ``hardened
audit`` follows for a cluster and for files -- every object is judged whole, and a finding its
controlling owner's pod template has too (``workloads.signature``: check, field, image) is the
owner's, reported there: an honest chain (a Deployment's ReplicaSets and their Pods, a
CronJob's Jobs, a HardenedService's Deployment) is reported once, at the top owner, while a
child that differs from its owner -- forged ``ownerReferences``, a ``kubectl debug``
container -- is reported for what its owner does not have.

What each owner found is kept by the caller, per uid, as signatures only
(``workloads.JudgedOwners``), filled by :func:`findings_for` itself: the operator sees every
pod-bearing object through its watches, and an owner not seen yet vouches for nothing (its
children are judged whole until they are judged again).

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
from hardened_operator.workloads import JudgedOwners, OwnerFindings, controller_of, judge

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


@dataclass(frozen=True, slots=True)
class Judged:
    """What the report says about an object (``findings``), and what that depends on: the
    uid of the controlling owner it was compared with (``owner``, None when nothing it found
    could be attributed to one) and what that owner was known to have found then
    (``against``, None: not known). When the owner's findings change, the object must be
    judged again."""

    findings: ObjectFindings | None
    owner: str | None = None
    against: OwnerFindings | None = None


def findings_for(
    obj: Mapping[str, Any], profile: Profile, owners: JudgedOwners | None = None
) -> ObjectFindings | None:
    """What the report says about ``obj``; None when nothing (compliant, every finding its
    owner's, not ours). :func:`judge_object` without what it depends on."""
    return judge_object(obj, profile, owners).findings


def judge_object(
    obj: Mapping[str, Any], profile: Profile, owners: JudgedOwners | None = None
) -> Judged:
    """What the report says about ``obj``, and on which owner's findings that depends.

    ``obj`` is an object as the API serves it (``kind``/``apiVersion`` set by the caller for
    list items). ``owners``: what the owners seen so far found; what ``obj`` found is kept
    there for its own children (None: no owner is known, ``obj`` is judged whole). Raises
    ``PolicyError`` for an unknown profile, like ``review_object``.
    """
    kind = obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(kind, str) or not isinstance(meta, Mapping):
        return Judged(None)
    known = owners if owners is not None else JudgedOwners()
    owner: str | None = None
    try:
        judgement = judge(obj, known, profile)
    except InputError as error:
        uid = meta.get("uid")
        if isinstance(uid, str):
            known.forget(uid)  # what it found is unknown: it vouches for nothing
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
        known.remember(obj, judgement.found)
        failures = _failures(judgement.reported)
        ref = controller_of(obj)
        if judgement.found.signatures and ref is not None and ref.uid != meta.get("uid"):
            owner = ref.uid
    against = known.get(owner) if owner is not None else None
    if not failures:
        return Judged(None, owner, against)
    found = ObjectFindings(
        api_version=sys.intern(str(obj.get("apiVersion") or "")),
        kind=sys.intern(kind),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        failures=failures,
    )
    return Judged(found, owner, against)
