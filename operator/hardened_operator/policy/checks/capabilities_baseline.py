"""capabilities_baseline (PSA baseline): only the default capabilities may be added.

Overridden by ``capabilities_restricted`` in the restricted profile, so it runs in the
``baseline`` profile only.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, containers_phrase, denied, finding, join_quote
from ..fields import opt_list, str_items
from ..types import CheckResult, Finding
from ._common import container_sub

ID = "capabilities_baseline"
_ALLOWED = allowed(ID)
ALLOWED_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def check(pod: PodView) -> CheckResult:
    bad: list[str] = []
    non_default: set[str] = set()
    findings: list[Finding] = []
    for ref in pod.containers:
        caps = container_sub(ref, "capabilities")
        if caps is None:
            continue
        caps_path = f"{ref.sc_path}.capabilities"
        add_field = f"{caps_path}.add"
        add = str_items(opt_list(caps, "add", caps_path) or (), add_field)
        extra = [c for c in add if c not in ALLOWED_CAPABILITIES]
        if extra:
            bad.append(ref.name)
            non_default.update(extra)
            kept = [c for c in add if c in ALLOWED_CAPABILITIES]
            findings.append(
                finding(
                    ID,
                    add_field,
                    f"adds non-default capabilities {join_quote(sorted(set(extra)))}",
                    ref=ref,
                    fix_op="set" if kept else "remove",
                    fix_field=add_field,
                    fix_value=kept if kept else None,
                )
            )
    if bad:
        detail = (
            f"{containers_phrase(bad)} must not include {join_quote(sorted(non_default))} "
            "in securityContext.capabilities.add"
        )
        return denied(ID, "non-default capabilities", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline",),
    func=check,
    summary="only default capabilities may be added (baseline level only)",
)
