"""allowPrivilegeEscalation (PSA restricted, policy v1.25): every container must set false.

Windows pods (``spec.os.name: windows``) are exempt, as in PSA v1.25+: the API forbids the
field there.
"""

from __future__ import annotations

from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool
from ..types import CheckResult, Finding

ID = "allowPrivilegeEscalation"
_ALLOWED = allowed(ID)
_IS_TRUE = "is true"
_UNSET = "is not set (it defaults to true)"
_MESSAGE = "allowPrivilegeEscalation {what}: setuid binaries can gain privileges"


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
            what = _IS_TRUE if value else _UNSET
            findings.append(
                finding(
                    ID,
                    field,
                    _MESSAGE.format(what=what),
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


_VALUE = "c.?securityContext.?allowPrivilegeEscalation"
CEL = CelRule(
    skip="variables.windows",
    container=(
        CelFinding(
            f"{_VALUE}.orValue(true)",
            "securityContext.allowPrivilegeEscalation",
            f"{_VALUE}.hasValue() ? {lit(_MESSAGE.format(what=_IS_TRUE))} "
            f": {lit(_MESSAGE.format(what=_UNSET))}",
            "container",
            "securityContext.allowPrivilegeEscalation",
            False,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("nonroot", "restricted"),
    func=check,
    summary="every container must set allowPrivilegeEscalation: false (Windows pods exempt)",
    cel=CEL,
)
