"""hostPorts (PSA baseline): no container port may set a non-zero hostPort."""

from __future__ import annotations

from ..check import Check, PodView, allowed, containers_phrase, denied, finding, pluralize
from ..fields import mapping_item, opt_int, opt_list
from ..types import CheckResult, Finding

ID = "hostPorts"
_ALLOWED = allowed(ID)


def check(pod: PodView) -> CheckResult:
    bad: list[str] = []
    ports_used: set[str] = set()
    findings: list[Finding] = []
    for ref in pod.containers:
        container_bad = False
        for index, item in enumerate(opt_list(ref.container, "ports", ref.path) or ()):
            if type(item) is dict and item.get("hostPort") is None:
                continue  # the common case, decided without building a path
            port_path = f"{ref.path}.ports[{index}]"
            port = mapping_item(item, port_path)
            host_port = opt_int(port, "hostPort", port_path)
            if host_port:
                container_bad = True
                ports_used.add(str(host_port))
                findings.append(
                    finding(
                        ID,
                        f"{port_path}.hostPort",
                        f"binds host port {host_port} on the node",
                        ref=ref,
                        fix_op="remove",
                        fix_field=f"{port_path}.hostPort",
                    )
                )
        if container_bad:
            bad.append(ref.name)
    if bad:
        detail = (
            f"{containers_phrase(bad)} {pluralize('uses', 'use', len(bad))} "
            f"{pluralize('hostPort', 'hostPorts', len(ports_used))} "
            f"{', '.join(sorted(ports_used))}"
        )
        return denied(ID, "hostPort", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="no hostPort on any container port",
)
