"""hostProbesAndHostLifecycle (PSA baseline, policy v1.34): probes and lifecycle handlers may
not name a ``host`` (which would let the kubelet reach arbitrary addresses for the pod).
"""

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

ID = "hostProbesAndHostLifecycle"
_ALLOWED = allowed(ID)
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_HANDLERS = ("postStart", "preStop")
_ACTIONS = ("httpGet", "tcpSocket")


def _hosts(
    handler: JsonObject, path: str, ref: ContainerRef, hosts: list[str], findings: list[Finding]
) -> None:
    for action_key in _ACTIONS:
        action = opt_mapping(handler, action_key, path)
        if action is None:
            continue
        action_path = f"{path}.{action_key}"
        host = opt_str(action, "host", action_path)
        if host:
            hosts.append(host)
            findings.append(
                finding(
                    ID,
                    f"{action_path}.host",
                    f'probe or lifecycle handler targets host "{host}" instead of the pod',
                    ref=ref,
                    fix_op="remove",
                    fix_field=f"{action_path}.host",
                )
            )


def check(pod: PodView) -> CheckResult:
    bad: set[str] = set()
    forbidden: set[str] = set()
    findings: list[Finding] = []
    for ref in pod.containers:
        hosts: list[str] = []
        for key in _PROBES:
            probe = opt_mapping(ref.container, key, ref.path)
            if probe is not None:
                _hosts(probe, ref.field(key), ref, hosts, findings)
        lifecycle = opt_mapping(ref.container, "lifecycle", ref.path)
        if lifecycle is not None:
            for key in _HANDLERS:
                handler_path = ref.field("lifecycle")
                handler = opt_mapping(lifecycle, key, handler_path)
                if handler is not None:
                    _hosts(handler, f"{handler_path}.{key}", ref, hosts, findings)
        if hosts:
            bad.add(ref.name)
            forbidden.update(hosts)
    if bad:
        detail = (
            f"{containers_phrase(sorted(bad))} {pluralize('uses', 'use', len(bad))} "
            f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(forbidden))} "
            f"{join_quote(sorted(forbidden))}"
        )
        return denied(ID, "probe or lifecycle host", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="no host in probes or lifecycle handlers",
)
