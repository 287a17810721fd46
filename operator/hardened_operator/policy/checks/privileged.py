"""privileged (PSA baseline): no container may set securityContext.privileged=true."""

from __future__ import annotations

from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool
from ..types import CheckResult, Finding

ID = "privileged"
_ALLOWED = allowed(ID)
_MESSAGE = "runs privileged: full access to the node"


def check(pod: PodView) -> CheckResult:
    findings: list[Finding] = []
    bad: list[str] = []
    for ref in pod.containers:
        csc = ref.sc
        if csc is not None and opt_bool(csc, "privileged", ref.sc_path):
            bad.append(ref.name)
            field = ref.field("securityContext", "privileged")
            findings.append(
                finding(
                    ID,
                    field,
                    _MESSAGE,
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value=False,
                )
            )
    if bad:
        detail = f"{containers_phrase(bad)} must not set securityContext.privileged=true"
        return denied(ID, "privileged", detail, findings)
    return _ALLOWED


CEL = CelRule(
    container=(
        CelFinding(
            "c.?securityContext.?privileged.orValue(false)",
            "securityContext.privileged",
            lit(_MESSAGE),
            "container",
            "securityContext.privileged",
            False,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("nonroot", "baseline", "restricted"),
    func=check,
    summary="no container may be privileged",
    cel=CEL,
)
