"""seccompProfile_restricted (PSA restricted, policy v1.25): RuntimeDefault or Localhost must be
set, at pod level or on every container. Windows pods are exempt, as in PSA v1.25+.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..types import CheckResult
from ._seccomp import seccomp_type
from .seccomp_profile_baseline import POD_FIELD, explicit_bad, explicit_detail

ID = "seccompProfile_restricted"
_ALLOWED = allowed(ID)


def check(pod: PodView) -> CheckResult:
    if pod.is_windows:
        return _ALLOWED
    bad_setters, bad_values, findings, pod_valid = explicit_bad(pod, ID)
    implicit: list[str] = []
    if not pod_valid:
        for ref in pod.containers:
            if seccomp_type(ref.sc, ref.sc_path) is None:
                implicit.append(ref.name)
                findings.append(
                    finding(
                        ID,
                        ref.field("securityContext", "seccompProfile", "type"),
                        "no seccomp profile here nor at pod level",
                        ref=ref,
                        fix_op="set",
                        fix_field=POD_FIELD,
                        fix_value="RuntimeDefault",
                    )
                )
    if bad_setters:
        return denied(ID, "seccompProfile", explicit_detail(bad_setters, bad_values), findings)
    if implicit:
        detail = (
            f"pod or {containers_phrase(implicit)} must set securityContext.seccompProfile.type "
            'to "RuntimeDefault" or "Localhost"'
        )
        return denied(ID, "seccompProfile", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("restricted",),
    func=check,
    summary="seccomp profile RuntimeDefault or Localhost must be set (Windows pods exempt)",
    overrides=("seccompProfile_baseline",),
)
