"""procMount (PSA baseline, policy v1.35): /proc stays masked, unless ``hostUsers: false``.

Overridden by ``procMount_restricted`` in the restricted profile, so it runs in the
``baseline`` profile only.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed
from ..types import CheckResult
from ._proc_mount import proc_mount_default_only

ID = "procMount"
_ALLOWED = allowed(ID)


def check(pod: PodView) -> CheckResult:
    if pod.user_namespace_relaxed:
        return _ALLOWED
    return proc_mount_default_only(pod, ID)


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline",),
    func=check,
    summary="procMount only Default, any value for hostUsers: false (baseline level only)",
)
