"""runAsUser (PSA restricted, policy v1.35): nothing may set runAsUser to 0.

Restricted fields: spec.securityContext.runAsUser and every container's
securityContext.runAsUser. Allowed: non-zero, unset. PSA skips the check for
``hostUsers: false`` pods; the ``nonroot`` profile does not: UID 0 is never acceptable.
"""

from __future__ import annotations

from typing import Final

from ...conventions import APP_UID
from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool, opt_int
from ..types import CheckResult, Finding

ID = "runAsUser"
_ALLOWED = allowed(ID)
_POD_FIELD = "securityContext.runAsUser"
_POD_ROOT = "UID 0 (root) at pod level"
ROOT_MESSAGE: Final = "runs as UID 0 (root)"  # hardened verify looks for it


def _userns_note(pod: PodView) -> str:
    # Say why hostUsers: false did not help, so nobody reads the denial as a PSA bug.
    if not pod.relax_user_namespaces and opt_bool(pod.spec, "hostUsers", "") is False:
        return " (hostUsers: false does not make UID 0 acceptable under the nonroot profile)"
    return ""


def check(pod: PodView) -> CheckResult:
    if pod.user_namespace_relaxed:
        return _ALLOWED
    findings: list[Finding] = []
    bad_setters: list[str] = []
    sc = pod.security_context
    if sc is not None and opt_int(sc, "runAsUser", "securityContext") == 0:
        bad_setters.append("pod")
        findings.append(
            finding(
                ID,
                _POD_FIELD,
                _POD_ROOT + _userns_note(pod),
                fix_op="set",
                fix_field=_POD_FIELD,
                fix_value=APP_UID,
            )
        )
    bad_containers: list[str] = []
    for ref in pod.containers:
        csc = ref.sc
        if csc is not None and opt_int(csc, "runAsUser", ref.sc_path) == 0:
            bad_containers.append(ref.name)
            field = ref.field("securityContext", "runAsUser")
            findings.append(
                finding(
                    ID,
                    field,
                    ROOT_MESSAGE + _userns_note(pod),
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value=APP_UID,
                )
            )
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if bad_setters:
        detail = " and ".join(bad_setters) + " must not set runAsUser=0"
        return denied(ID, "runAsUser=0", detail, findings)
    return _ALLOWED


CEL = CelRule(
    skip="variables.relaxed",
    pod=(
        CelFinding(
            "variables.spec.?securityContext.?runAsUser.orValue(1) == 0",
            _POD_FIELD,
            lit(_POD_ROOT),
            "pod",
            _POD_FIELD,
            APP_UID,
        ),
    ),
    container=(
        CelFinding(
            "c.?securityContext.?runAsUser.orValue(1) == 0",
            "securityContext.runAsUser",
            lit(ROOT_MESSAGE),
            "container",
            "securityContext.runAsUser",
            APP_UID,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("nonroot", "restricted"),
    func=check,
    summary="runAsUser must not be 0 (pod or any container)",
    cel=CEL,
)
