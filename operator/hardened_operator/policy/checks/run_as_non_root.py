"""runAsNonRoot (PSA restricted, policy v1.35): pod or every container must set it to true.

Restricted fields: spec.securityContext.runAsNonRoot and every container's
securityContext.runAsNonRoot. Allowed: true; unset at container level if the pod sets true.
PSA skips the check for ``hostUsers: false`` pods; the ``nonroot`` profile does not.
"""

from __future__ import annotations

from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool
from ..types import CheckResult, Finding

ID = "runAsNonRoot"
_ALLOWED = allowed(ID)
_POD_FIELD = "securityContext.runAsNonRoot"
_POD_FALSE = "runAsNonRoot is false at pod level"
_FALSE = "runAsNonRoot is false: the container may run as root"
_UNSET = "runAsNonRoot is not true here nor at pod level: the image's user, often root, would run"


def check(pod: PodView) -> CheckResult:
    if pod.user_namespace_relaxed:
        return _ALLOWED
    findings: list[Finding] = []
    bad_setters: list[str] = []
    pod_non_root = False
    sc = pod.security_context
    if sc is not None:
        value = opt_bool(sc, "runAsNonRoot", "securityContext")
        if value is False:
            bad_setters.append("pod")
            findings.append(
                finding(
                    ID,
                    _POD_FIELD,
                    _POD_FALSE,
                    fix_op="set",
                    fix_field=_POD_FIELD,
                    fix_value=True,
                )
            )
        elif value is True:
            pod_non_root = True

    explicit: list[str] = []
    implicit: list[str] = []
    for ref in pod.containers:
        csc = ref.sc
        value = None if csc is None else opt_bool(csc, "runAsNonRoot", ref.sc_path)
        if value is True or (value is None and pod_non_root):
            continue
        field = f"{ref.sc_path}.runAsNonRoot"
        if value is not None:
            if not value:
                explicit.append(ref.name)
                findings.append(
                    finding(
                        ID,
                        field,
                        _FALSE,
                        ref=ref,
                        fix_op="set",
                        fix_field=field,
                        fix_value=True,
                    )
                )
        elif not pod_non_root:
            implicit.append(ref.name)
            findings.append(
                finding(
                    ID,
                    field,
                    _UNSET,
                    ref=ref,
                    fix_op="set",
                    fix_field=_POD_FIELD,
                    fix_value=True,
                )
            )

    if explicit:
        bad_setters.append(containers_phrase(explicit))
    if bad_setters:
        detail = " and ".join(bad_setters) + " must not set securityContext.runAsNonRoot=false"
        return denied(ID, "runAsNonRoot != true", detail, findings)
    if implicit:
        detail = f"pod or {containers_phrase(implicit)} must set securityContext.runAsNonRoot=true"
        return denied(ID, "runAsNonRoot != true", detail, findings)
    return _ALLOWED


_POD_VALUE = "variables.spec.?securityContext.?runAsNonRoot"
CEL = CelRule(
    skip="variables.relaxed",
    pod=(
        CelFinding(
            f"{_POD_VALUE}.orValue(true) == false",
            _POD_FIELD,
            lit(_POD_FALSE),
            "pod",
            _POD_FIELD,
            True,
        ),
    ),
    container=(
        CelFinding(
            "c.?securityContext.?runAsNonRoot.orValue(true) == false",
            "securityContext.runAsNonRoot",
            lit(_FALSE),
            "container",
            "securityContext.runAsNonRoot",
            True,
        ),
        CelFinding(
            f"!c.?securityContext.?runAsNonRoot.hasValue() && !{_POD_VALUE}.orValue(false)",
            "securityContext.runAsNonRoot",
            lit(_UNSET),
            "pod",
            _POD_FIELD,
            True,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("nonroot", "restricted"),
    func=check,
    summary="runAsNonRoot must be true (pod level, or every container)",
    cel=CEL,
)
