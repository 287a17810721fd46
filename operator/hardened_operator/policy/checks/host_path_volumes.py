"""hostPathVolumes (PSA baseline): no hostPath volumes.

Overridden by ``restrictedVolumes`` in the restricted profile (which forbids hostPath too), so
it runs in the ``baseline`` profile only.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, denied, finding, join_quote, pluralize
from ..types import CheckResult, Finding
from ._volumes import volumes

ID = "hostPathVolumes"
_ALLOWED = allowed(ID)


def check(pod: PodView) -> CheckResult:
    bad: list[str] = []
    findings: list[Finding] = []
    for index, name, volume in volumes(pod):
        if volume.get("hostPath") is not None:
            bad.append(name)
            findings.append(
                finding(
                    ID,
                    f"volumes[{index}].hostPath",
                    f'volume "{name}" mounts a path of the node (hostPath)',
                    fix=f'replace the hostPath volume "{name}" with an emptyDir, configMap, '
                    "secret or persistentVolumeClaim volume",
                )
            )
    if bad:
        detail = f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)}"
        return denied(ID, "hostPath volumes", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline",),
    func=check,
    summary="no hostPath volumes (baseline level only; restrictedVolumes covers it)",
)
