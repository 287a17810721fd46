"""sysctls (PSA baseline, policy v1.37): only the namespaced, node-isolated "safe" sysctls."""

from __future__ import annotations

from ..check import Check, PodView, allowed, denied, finding
from ..fields import mapping_item, opt_list, opt_str
from ..types import CheckResult, Finding

ID = "sysctls"
_ALLOWED = allowed(ID)
SAFE_SYSCTLS = frozenset(
    {
        # policy v1.0
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        # v1.27
        "net.ipv4.ip_local_reserved_ports",
        # v1.29
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        # v1.32
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        # v1.37
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)


def check(pod: PodView) -> CheckResult:
    sc = pod.security_context
    if sc is None:
        return _ALLOWED
    forbidden: list[str] = []
    findings: list[Finding] = []
    for index, item in enumerate(opt_list(sc, "sysctls", "securityContext") or ()):
        path = f"securityContext.sysctls[{index}]"
        name = opt_str(mapping_item(item, path), "name", path) or ""
        if name not in SAFE_SYSCTLS:
            forbidden.append(name)
            findings.append(
                finding(
                    ID,
                    f"{path}.name",
                    f'sysctl "{name}" is not in the safe set',
                    fix=f'remove the sysctl "{name}" from securityContext.sysctls',
                )
            )
    if forbidden:
        return denied(ID, "forbidden sysctls", ", ".join(forbidden), findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="only safe sysctls (the v1.37 list)",
)
