"""The policy engine (pure: no I/O here, no kubernetes/kopf/aiohttp import).

One check per module in :mod:`.checks`, each registered with its PSA id, PSA level and the
profiles that run it; one container visitor (:mod:`.visitor`) over containers, initContainers
and ephemeralContainers.

Profiles:

``nonroot`` (default)
    runAsNonRoot, runAsUser, privileged, allowPrivilegeEscalation, capabilities_restricted,
    windowsHostProcess — exactly PSA's checks at policy v1.37, except that ``hostUsers:
    false`` never makes UID 0 acceptable — and our own rootGroups (no GID 0).
``nonroot:allow-root-group``
    ``nonroot`` without rootGroups, for platforms that rely on GID 0.
``baseline``
    PSA's whole baseline profile at policy v1.37, exactly.
``restricted``
    PSA's whole restricted profile at policy v1.37 (baseline checks included), exactly.

Usage::

    from hardened_operator.policy import evaluate
    results = evaluate(pod["metadata"], pod["spec"], "restricted")
    allowed = all(r.allowed for r in results)
"""

from __future__ import annotations

from .check import Check, PodView
from .engine import CHECKS, MALFORMED_REASON, check_ids, evaluate, psa_message, run_checks
from .types import (
    DEFAULT_PROFILE,
    PROFILES,
    CheckResult,
    ContainerType,
    Finding,
    Profile,
    Violation,
)

__all__ = [
    "CHECKS",
    "DEFAULT_PROFILE",
    "MALFORMED_REASON",
    "PROFILES",
    "Check",
    "CheckResult",
    "ContainerType",
    "Finding",
    "PodView",
    "Profile",
    "Violation",
    "check_ids",
    "evaluate",
    "psa_message",
    "run_checks",
]
