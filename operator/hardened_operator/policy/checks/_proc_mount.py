"""PSA's ``procMount_1_0`` logic, shared by the baseline and restricted procMount checks."""

from __future__ import annotations

from ..check import PodView, allowed, containers_phrase, denied, finding, join_quote
from ..fields import opt_str
from ..types import CheckResult, Finding

_ALLOWED = {check_id: allowed(check_id) for check_id in ("procMount", "procMount_restricted")}


def proc_mount_default_only(pod: PodView, check_id: str) -> CheckResult:
    bad: list[str] = []
    bad_types: set[str] = set()
    findings: list[Finding] = []
    for ref in pod.containers:
        csc = ref.sc
        if csc is None:
            continue
        value = opt_str(csc, "procMount", ref.sc_path)
        if value is not None and value != "Default":
            bad.append(ref.name)
            bad_types.add(value)
            field = ref.field("securityContext", "procMount")
            findings.append(
                finding(
                    check_id,
                    field,
                    f'procMount "{value}" unmasks /proc (only Default is allowed)',
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value="Default",
                )
            )
    if bad:
        detail = (
            f"{containers_phrase(bad)} must not set securityContext.procMount to "
            f"{join_quote(sorted(bad_types))}"
        )
        return denied(check_id, "procMount", detail, findings)
    return _ALLOWED[check_id]
