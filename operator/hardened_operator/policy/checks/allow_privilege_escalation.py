"""allowPrivilegeEscalation (PSA restricted, policy v1.25): every container must set false.

Windows pods (``spec.os.name: windows``) are exempt, as in PSA v1.25+: the API forbids the
field there.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool
from ..types import CheckResult, Finding

ID = "allowPrivilegeEscalation"
_ALLOWED = allowed(ID)


def check(pod: PodView) -> CheckResult:
    if pod.is_windows:
        return _ALLOWED
    findings: list[Finding] = []
    bad: list[str] = []
    for ref in pod.containers:
        csc = ref.sc
        value = None if csc is None else opt_bool(csc, "allowPrivilegeEscalation", ref.sc_path)
        if value is None or value:
            bad.append(ref.name)
            field = ref.field("securityContext", "allowPrivilegeEscalation")
            what = "is true" if value else "is not set (it defaults to true)"
            findings.append(
                finding(
                    ID,
                    field,
                    f"allowPrivilegeEscalation {what}: setuid binaries can gain privileges",
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value=False,
                )
            )
    if bad:
        detail = f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false"
        return denied(ID, "allowPrivilegeEscalation != false", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("nonroot", "restricted"),
    func=check,
    summary="every container must set allowPrivilegeEscalation: false (Windows pods exempt)",
)
