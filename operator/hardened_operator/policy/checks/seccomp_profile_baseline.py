"""seccompProfile_baseline (PSA baseline, policy v1.19): if set, only RuntimeDefault/Localhost.

Overridden by ``seccompProfile_restricted`` in the restricted profile (``baseline`` only).
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, containers_phrase, denied, finding, join_quote
from ..types import CheckResult, Finding
from ._seccomp import VALID_TYPES, pod_seccomp_type, seccomp_type

ID = "seccompProfile_baseline"
_ALLOWED = allowed(ID)
POD_FIELD = "securityContext.seccompProfile.type"


def explicit_bad(pod: PodView, check_id: str) -> tuple[list[str], set[str], list[Finding], bool]:
    """PSA's explicit half: (bad setters, bad values, findings, pod has a valid profile)."""
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    findings: list[Finding] = []
    pod_type = pod_seccomp_type(pod)
    if pod_type is not None and pod_type not in VALID_TYPES:
        bad_setters.append("pod")
        bad_values.add(pod_type)
        findings.append(
            finding(
                check_id,
                POD_FIELD,
                f'seccomp profile type "{pod_type}" at pod level '
                "(only RuntimeDefault or Localhost)",
                fix_op="set",
                fix_field=POD_FIELD,
                fix_value="RuntimeDefault",
            )
        )
    bad_containers: list[str] = []
    for ref in pod.containers:
        value = seccomp_type(ref.sc, ref.sc_path)
        if value is not None and value not in VALID_TYPES:
            bad_containers.append(ref.name)
            bad_values.add(value)
            field = ref.field("securityContext", "seccompProfile", "type")
            findings.append(
                finding(
                    check_id,
                    field,
                    f'seccomp profile type "{value}" (only RuntimeDefault or Localhost)',
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value="RuntimeDefault",
                )
            )
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    return bad_setters, bad_values, findings, pod_type in VALID_TYPES


def explicit_detail(bad_setters: list[str], bad_values: set[str]) -> str:
    return (
        f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to "
        f"{join_quote(sorted(bad_values))}"
    )


def check(pod: PodView) -> CheckResult:
    bad_setters, bad_values, findings, _ = explicit_bad(pod, ID)
    if bad_setters:
        return denied(ID, "seccompProfile", explicit_detail(bad_setters, bad_values), findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline",),
    func=check,
    summary="seccomp profile, if set, only RuntimeDefault or Localhost (baseline level only)",
)
