"""rootGroups (ours, not PSA's): nothing may run in, or give files to, GID 0 (the root group).

PSA checks the user (``runAsUser``) but not the group: a pod with ``runAsUser: 1000`` and
``runAsGroup: 0`` passes PSA restricted, yet every process in it can read and write whatever
the image or a volume left to group root (``/etc/shadow``-style files are often ``0:0 640``,
``/var/run/*.sock`` often ``root:root 660``). Reference: Kyverno's ``require-non-root-groups``
policy, whose three rules are the three fields below; like it, an *unset* field is allowed.

Restricted fields: ``spec.securityContext.runAsGroup``, every container's
``securityContext.runAsGroup`` (not 0), ``spec.securityContext.supplementalGroups`` (no 0),
``spec.securityContext.fsGroup`` (not 0). ``hostUsers: false`` relaxes nothing, as for
``runAsUser`` under ``nonroot``. Runs in ``nonroot`` only; the profile
``nonroot:allow-root-group`` is ``nonroot`` without it, for platforms that rely on GID 0.
"""

from __future__ import annotations

from ...conventions import APP_GID
from ...errors import MalformedFieldError
from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import JsonObject, opt_int, opt_list
from ..types import CheckResult, Finding

ID = "rootGroups"
_ALLOWED = allowed(ID)
_SC = "securityContext"
_POD_GROUP = "GID 0 (root group) is every container's primary group at pod level"
_SUPPLEMENTAL = "supplementalGroups adds GID 0 (root group) to every container"
_FS_GROUP = "fsGroup=0 gives the pod's volumes to GID 0 (root group) and adds it to every container"
_GROUP = "runs with GID 0 (root group) as its primary group"


def _groups(sc: JsonObject) -> list[int] | None:
    """``supplementalGroups`` as a list of integers, or a malformed-field error."""
    items = opt_list(sc, "supplementalGroups", _SC)
    if items is None:
        return None
    path = f"{_SC}.supplementalGroups"
    for index, item in enumerate(items):
        if not isinstance(item, int) or isinstance(item, bool):
            raise MalformedFieldError(f"{path}[{index}]", "an integer", item)
    return list(items)


def check(pod: PodView) -> CheckResult:
    findings: list[Finding] = []
    pod_fields: list[str] = []
    sc = pod.security_context
    if sc is not None:
        if opt_int(sc, "runAsGroup", _SC) == 0:
            pod_fields.append("runAsGroup=0")
            field = f"{_SC}.runAsGroup"
            findings.append(
                finding(
                    ID,
                    field,
                    _POD_GROUP,
                    fix_op="set",
                    fix_field=field,
                    fix_value=APP_GID,
                )
            )
        groups = _groups(sc)
        if groups is not None and 0 in groups:
            pod_fields.append("supplementalGroups containing 0")
            field = f"{_SC}.supplementalGroups"
            rest = [group for group in groups if group != 0]
            message = _SUPPLEMENTAL
            if rest:
                findings.append(
                    finding(ID, field, message, fix_op="set", fix_field=field, fix_value=rest)
                )
            else:
                findings.append(finding(ID, field, message, fix_op="remove", fix_field=field))
        if opt_int(sc, "fsGroup", _SC) == 0:
            pod_fields.append("fsGroup=0")
            field = f"{_SC}.fsGroup"
            findings.append(
                finding(
                    ID,
                    field,
                    _FS_GROUP,
                    fix_op="set",
                    fix_field=field,
                    fix_value=APP_GID,
                )
            )
    bad: list[str] = []
    for ref in pod.containers:
        csc = ref.sc
        if csc is not None and opt_int(csc, "runAsGroup", ref.sc_path) == 0:
            bad.append(ref.name)
            field = ref.field(_SC, "runAsGroup")
            findings.append(
                finding(
                    ID,
                    field,
                    _GROUP,
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value=APP_GID,
                )
            )
    parts: list[str] = []
    if pod_fields:
        parts.append(f"pod must not set {', '.join(pod_fields)}")
    if bad:
        parts.append(f"{containers_phrase(bad)} must not set runAsGroup=0")
    if parts:
        return denied(ID, "root group", "; ".join(parts), findings)
    return _ALLOWED


_POD_SC = "variables.spec.?securityContext"
CEL = CelRule(
    pod=(
        CelFinding(
            f"{_POD_SC}.?runAsGroup.orValue(1) == 0",
            f"{_SC}.runAsGroup",
            lit(_POD_GROUP),
            "pod",
            f"{_SC}.runAsGroup",
            APP_GID,
        ),
        CelFinding(
            f"0 in {_POD_SC}.?supplementalGroups.orValue([])",
            f"{_SC}.supplementalGroups",
            lit(_SUPPLEMENTAL),
            "pod",
            f"{_SC}.supplementalGroups",
            fix_template="remove 0 from {path}",
        ),
        CelFinding(
            f"{_POD_SC}.?fsGroup.orValue(1) == 0",
            f"{_SC}.fsGroup",
            lit(_FS_GROUP),
            "pod",
            f"{_SC}.fsGroup",
            APP_GID,
        ),
    ),
    container=(
        CelFinding(
            "c.?securityContext.?runAsGroup.orValue(1) == 0",
            f"{_SC}.runAsGroup",
            lit(_GROUP),
            "container",
            f"{_SC}.runAsGroup",
            APP_GID,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="hardened",
    profiles=("nonroot",),
    func=check,
    summary="no GID 0: runAsGroup (pod or any container), supplementalGroups, fsGroup",
    cel=CEL,
)
