"""hostNamespaces (PSA baseline): hostNetwork, hostPID and hostIPC must be unset or false."""

from __future__ import annotations

from ..check import Check, PodView, allowed, denied, finding
from ..fields import opt_bool
from ..types import CheckResult, Finding

ID = "hostNamespaces"
_ALLOWED = allowed(ID)
_FIELDS = ("hostNetwork", "hostPID", "hostIPC")
_NAMESPACES = {"hostNetwork": "network", "hostPID": "process", "hostIPC": "IPC"}


def check(pod: PodView) -> CheckResult:
    bad: list[str] = []
    findings: list[Finding] = []
    for key in _FIELDS:
        if opt_bool(pod.spec, key, ""):
            bad.append(f"{key}=true")
            findings.append(
                finding(
                    ID,
                    key,
                    f"{key}=true shares the node's {_NAMESPACES[key]} namespace",
                    fix_op="remove",
                    fix_field=key,
                )
            )
    if bad:
        return denied(ID, "host namespaces", ", ".join(bad), findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="hostNetwork, hostPID and hostIPC must not be true",
)
