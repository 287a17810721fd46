"""capabilities_restricted (PSA restricted, policy v1.25): drop ALL, add only NET_BIND_SERVICE.

Windows pods are exempt, as in PSA v1.25+. Replaces ``capabilities_baseline`` in the
restricted profile.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding, join_quote
from ..fields import opt_list, str_items
from ..types import CheckResult, Finding
from ._common import container_sub

ID = "capabilities_restricted"
_ALLOWED = allowed(ID)
CAPABILITY_ALL = "ALL"
NET_BIND_SERVICE = "NET_BIND_SERVICE"
_NOT_DROPPED = 'capabilities are not dropped: drop must include "ALL"'
_ONLY = 'only "NET_BIND_SERVICE" may be added'


def check(pod: PodView) -> CheckResult:
    if pod.is_windows:
        return _ALLOWED
    findings: list[Finding] = []
    missing_drop: list[str] = []
    adding: list[str] = []
    forbidden: set[str] = set()
    for ref in pod.containers:
        caps = container_sub(ref, "capabilities")
        caps_path = f"{ref.sc_path}.capabilities"
        drop: Sequence[str] = ()
        add: Sequence[str] = ()
        if caps is not None:
            drop = str_items(opt_list(caps, "drop", caps_path) or (), f"{caps_path}.drop")
            add = str_items(opt_list(caps, "add", caps_path) or (), f"{caps_path}.add")
        if CAPABILITY_ALL not in drop:
            missing_drop.append(ref.name)
            drop_field = f"{caps_path}.drop"
            findings.append(
                finding(
                    ID,
                    drop_field,
                    _NOT_DROPPED,
                    ref=ref,
                    fix_op="set",
                    fix_field=drop_field,
                    fix_value=[CAPABILITY_ALL],
                )
            )
        bad_adds = [c for c in add if c != NET_BIND_SERVICE]
        if bad_adds:
            adding.append(ref.name)
            forbidden.update(bad_adds)
            add_field = f"{caps_path}.add"
            kept = [c for c in add if c == NET_BIND_SERVICE]
            findings.append(
                finding(
                    ID,
                    add_field,
                    f"adds capabilities {join_quote(sorted(set(bad_adds)))}; {_ONLY}",
                    ref=ref,
                    fix_op="set" if kept else "remove",
                    fix_field=add_field,
                    fix_value=kept if kept else None,
                )
            )
    details: list[str] = []
    if missing_drop:
        details.append(
            f'{containers_phrase(missing_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if adding:
        details.append(
            f"{containers_phrase(adding)} must not include {join_quote(sorted(forbidden))} "
            "in securityContext.capabilities.add"
        )
    if details:
        return denied(ID, "unrestricted capabilities", "; ".join(details), findings)
    return _ALLOWED


_CAPS = "c.?securityContext.?capabilities"
_EXTRA = f"{_CAPS}.?add.orValue([]).filter(a, a != {lit(NET_BIND_SERVICE)})"
CEL = CelRule(
    skip="variables.windows",
    container=(
        CelFinding(
            f"!({lit(CAPABILITY_ALL)} in {_CAPS}.?drop.orValue([]))",
            "securityContext.capabilities.drop",
            lit(_NOT_DROPPED),
            "container",
            "securityContext.capabilities.drop",
            [CAPABILITY_ALL],
        ),
        CelFinding(
            f"{_CAPS}.?add.orValue([]).exists(a, a != {lit(NET_BIND_SERVICE)})",
            "securityContext.capabilities.add",
            f"'adds capabilities ' + {_EXTRA}.map(a, '\"' + a + '\"').join(', ') + "
            f"{lit('; ' + _ONLY)}",
            "container",
            "securityContext.capabilities.add",
            [NET_BIND_SERVICE],
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("nonroot", "restricted"),
    func=check,
    summary='every container must drop ["ALL"] and add nothing but NET_BIND_SERVICE',
    overrides=("capabilities_baseline",),
    cel=CEL,
)
