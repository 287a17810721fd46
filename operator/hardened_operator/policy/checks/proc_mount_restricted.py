"""procMount_restricted (PSA restricted, policy v1.35): procMount only Default, always."""

from __future__ import annotations

from ..check import Check, PodView
from ..types import CheckResult
from ._proc_mount import proc_mount_default_only

ID = "procMount_restricted"


def check(pod: PodView) -> CheckResult:
    return proc_mount_default_only(pod, ID)


CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("restricted",),
    func=check,
    summary="procMount must be unset or Default (even with hostUsers: false)",
    overrides=("procMount",),
)
