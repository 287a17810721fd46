"""Evaluate a pod against a profile (pure: no I/O here).

``evaluate`` runs every check of the profile on one :class:`PodView` and returns one
``CheckResult`` per check, in PSA's evaluation order (baseline checks, then restricted ones,
each by id). It never raises for a bad pod: a field of the wrong type, or any other surprise
inside a check, becomes a *denying* result naming the field (fail closed). Only a programming
error of the caller (an unknown profile) raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import MalformedFieldError, PolicyError
from .check import Check, PodView
from .checks import ALL
from .types import PROFILES, CheckResult, ContainerType, Finding, Profile, Scope
from .visitor import CONTAINER_LISTS

CHECKS: Mapping[str, Check] = MappingProxyType({check.id: check for check in ALL})

# A profile with a switch: (the profile it derives from, the check ids the switch turns off).
VARIANTS: Mapping[str, tuple[Profile, frozenset[str]]] = MappingProxyType(
    {"nonroot:allow-root-group": ("nonroot", frozenset({"rootGroups"}))}
)


def _checks_of(profile: Profile) -> tuple[Check, ...]:
    base, off = VARIANTS.get(profile, (profile, frozenset()))
    return tuple(check for check in ALL if base in check.profiles and check.id not in off)


_PROFILE_CHECKS: dict[str, tuple[Check, ...]] = {
    profile: _checks_of(profile) for profile in PROFILES
}
# PSA's hostUsers: false relaxation applies in `baseline` and `restricted` (to match PSA) but
# never in `nonroot`, whose whole point is that UID 0 is not acceptable.
_RELAX_USER_NAMESPACES: dict[str, bool] = {
    "nonroot": False,
    "nonroot:allow-root-group": False,
    "baseline": True,
    "restricted": True,
}

MALFORMED_REASON = "malformed pod spec"


def _profile_checks(profile: str) -> tuple[Check, ...]:
    checks = _PROFILE_CHECKS.get(profile) if isinstance(profile, str) else None
    if checks is None:
        raise PolicyError(f"unknown policy profile {profile!r}; known: {', '.join(PROFILES)}")
    return checks


def check_ids(profile: Profile = "nonroot") -> list[str]:
    """The ids of the checks a profile runs, in evaluation order."""
    return [check.id for check in _profile_checks(profile)]


def evaluate(
    metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any],
    profile: Profile = "nonroot",
) -> list[CheckResult]:
    """One result per check of ``profile``; the pod is allowed iff all are ``allowed``."""
    checks = _profile_checks(profile)
    return run_checks(
        checks, metadata, pod_spec, relax_user_namespaces=_RELAX_USER_NAMESPACES[profile]
    )


def psa_message(results: list[CheckResult]) -> str:
    """The denials as PSA words them: ``reason (detail), reason (detail)``, in PSA's order.

    For results of the ``restricted`` (or ``baseline``) profile, prefixed with ``violates
    PodSecurity "restricted:v1.37": `` (or ``"baseline:v1.37"``) this is, character for
    character, what kube-apiserver's PodSecurity admission says for the same pod (proved by
    tests/policy/test_policy_psa_differential.py). Empty when every check allowed the pod.
    """
    return ", ".join(
        f"{r.reason} ({r.detail})" if r.detail else r.reason for r in results if not r.allowed
    )


def run_checks(
    checks: tuple[Check, ...] | list[Check],
    metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any],
    *,
    relax_user_namespaces: bool = True,
) -> list[CheckResult]:
    """Run the given checks on one pod with the engine's fail-closed handling."""
    if not isinstance(pod_spec, Mapping):
        error = MalformedFieldError("", "an object", pod_spec)
        return [_malformed(check.id, error, {}) for check in checks]
    view = PodView(metadata, pod_spec, relax_user_namespaces=relax_user_namespaces)
    results: list[CheckResult] = []
    for check in checks:
        try:
            results.append(check.func(view))
        except MalformedFieldError as error:
            results.append(_malformed(check.id, error, pod_spec))
        except RecursionError:
            results.append(_failed(check.id, "the pod spec is nested too deeply"))
        except Exception as error:  # a security check must fail closed
            results.append(_failed(check.id, f"{type(error).__name__}: {error}"))
    return results


def _malformed(
    check_id: str, error: MalformedFieldError, pod_spec: Mapping[str, Any]
) -> CheckResult:
    # The message leaves the path out: ``field`` carries it, and review re-roots it.
    name, container_type = _container_of(error.field, pod_spec)
    field = error.field
    scope: Scope = "spec"
    if field == "metadata" or field.startswith("metadata."):
        # The pod's metadata (annotations) is located by review under its own path.
        field, scope = field.removeprefix("metadata").removeprefix("."), "metadata"
    finding = Finding(
        check=check_id,
        field=field,
        message=f"malformed field: {error.problem}",
        fix=f"replace the value with {error.expected}",
        container=name,
        container_type=container_type,
        scope=scope,
    )
    return CheckResult(
        check=check_id,
        allowed=False,
        reason=MALFORMED_REASON,
        detail=str(error),
        findings=(finding,),
    )


_CONTAINER_PATH = re.compile(r"(initContainers|containers|ephemeralContainers)\[(\d+)\]")
_TYPES: dict[str, ContainerType] = {key: kind for key, kind in CONTAINER_LISTS}


def _container_of(
    field: str, pod_spec: Mapping[str, Any]
) -> tuple[str | None, ContainerType | None]:
    """The container a malformed field sits in, so the denial can name it."""
    match = _CONTAINER_PATH.match(field)
    if match is None:
        return None, None
    key, index = match.group(1), int(match.group(2))
    items = pod_spec.get(key)
    name = None
    if isinstance(items, list) and index < len(items) and isinstance(items[index], Mapping):
        candidate = items[index].get("name")
        name = candidate if isinstance(candidate, str) else None
    return (name if name is not None else f"{key}[{index}]"), _TYPES[key]


def _failed(check_id: str, why: str) -> CheckResult:
    finding = Finding(
        check=check_id,
        field="",
        message=f"the check could not evaluate this pod spec ({why}); denied to fail closed",
        fix="make the pod spec a valid Kubernetes PodSpec",
    )
    return CheckResult(
        check=check_id,
        allowed=False,
        reason="check failed",
        detail=finding.message,
        findings=(finding,),
    )
