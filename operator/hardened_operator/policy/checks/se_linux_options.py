"""seLinuxOptions (PSA baseline, policy v1.31): only container SELinux types; no user, no role."""

from __future__ import annotations

from ..check import (
    Check,
    PodView,
    allowed,
    containers_phrase,
    denied,
    finding,
    join_quote,
    pluralize,
)
from ..fields import JsonObject, opt_mapping, opt_str
from ..types import CheckResult, Finding
from ..visitor import ContainerRef
from ._common import container_sub

ID = "seLinuxOptions"
_ALLOWED = allowed(ID)
ALLOWED_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)


class _Collector:
    def __init__(self) -> None:
        self.bad_types: set[str] = set()
        self.set_user = False
        self.set_role = False
        self.findings: list[Finding] = []

    def inspect(self, options: JsonObject, path: str, ref: ContainerRef | None) -> bool:
        valid = True
        selinux_type = opt_str(options, "type", path) or ""
        if selinux_type not in ALLOWED_TYPES:
            valid = False
            self.bad_types.add(selinux_type)
            self.findings.append(
                finding(
                    ID,
                    f"{path}.type",
                    f'SELinux type "{selinux_type}" is not a container type',
                    ref=ref,
                    fix_op="remove",
                    fix_field=f"{path}.type",
                )
            )
        for key in ("user", "role"):
            if opt_str(options, key, path):
                valid = False
                if key == "user":
                    self.set_user = True
                else:
                    self.set_role = True
                self.findings.append(
                    finding(
                        ID,
                        f"{path}.{key}",
                        f"sets a custom SELinux {key}",
                        ref=ref,
                        fix_op="remove",
                        fix_field=f"{path}.{key}",
                    )
                )
        return valid


def check(pod: PodView) -> CheckResult:
    collector = _Collector()
    bad_setters: list[str] = []
    sc = pod.security_context
    options = None if sc is None else opt_mapping(sc, "seLinuxOptions", "securityContext")
    if options is not None and not collector.inspect(
        options, "securityContext.seLinuxOptions", None
    ):
        bad_setters.append("pod")
    bad_containers: list[str] = []
    for ref in pod.containers:
        options = container_sub(ref, "seLinuxOptions")
        if options is not None and not collector.inspect(
            options, f"{ref.sc_path}.seLinuxOptions", ref
        ):
            bad_containers.append(ref.name)
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if bad_setters:
        bad_data: list[str] = []
        if collector.bad_types:
            types = sorted(collector.bad_types)
            bad_data.append(f"{pluralize('type', 'types', len(types))} {join_quote(types)}")
        if collector.set_user:
            bad_data.append("user may not be set")
        if collector.set_role:
            bad_data.append("role may not be set")
        detail = (
            f"{' and '.join(bad_setters)} set forbidden securityContext.seLinuxOptions: "
            f"{'; '.join(bad_data)}"
        )
        return denied(ID, "seLinuxOptions", detail, collector.findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="SELinux type only container_t/container_init_t/container_kvm_t/container_engine_t;"
    " no user or role",
)
