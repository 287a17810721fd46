"""windowsHostProcess (PSA baseline): no Windows HostProcess pod or container.

Also in ``nonroot``: a HostProcess container runs as an account of the Windows node itself
(``NT AUTHORITY\\SYSTEM``, say), in the node's network (the API server requires
``hostNetwork: true`` with it) and with the node's files: root on the node in all but name.
"""

from __future__ import annotations

from ..cel import CelFinding, CelRule, lit
from ..check import Check, PodView, allowed, containers_phrase, denied, finding
from ..fields import opt_bool, opt_mapping
from ..types import CheckResult, Finding
from ._common import container_sub

ID = "windowsHostProcess"
_ALLOWED = allowed(ID)
_CONTAINER = "runs as a Windows HostProcess: full access to the node"
_POD = "the pod runs as a Windows HostProcess: full access to the node"
_FIELD = "securityContext.windowsOptions.hostProcess"


def check(pod: PodView) -> CheckResult:
    findings: list[Finding] = []
    bad: list[str] = []
    for ref in pod.containers:
        options = container_sub(ref, "windowsOptions")
        if options is None:
            continue
        path = f"{ref.sc_path}.windowsOptions"
        if opt_bool(options, "hostProcess", path):
            bad.append(ref.name)
            findings.append(
                finding(
                    ID,
                    f"{path}.hostProcess",
                    _CONTAINER,
                    ref=ref,
                    fix_op="set",
                    fix_field=f"{path}.hostProcess",
                    fix_value=False,
                )
            )
    setters: list[str] = []
    sc = pod.security_context
    options = None if sc is None else opt_mapping(sc, "windowsOptions", "securityContext")
    if options is not None and opt_bool(options, "hostProcess", "securityContext.windowsOptions"):
        setters.append("pod")
        field = "securityContext.windowsOptions.hostProcess"
        findings.insert(
            0,
            finding(
                ID,
                field,
                _POD,
                fix_op="set",
                fix_field=field,
                fix_value=False,
            ),
        )
    if bad:
        setters.append(containers_phrase(bad))
    if setters:
        detail = (
            f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
        )
        return denied(ID, "hostProcess", detail, findings)
    return _ALLOWED


CEL = CelRule(
    pod=(
        CelFinding(
            "variables.spec.?securityContext.?windowsOptions.?hostProcess.orValue(false)",
            _FIELD,
            lit(_POD),
            "pod",
            _FIELD,
            False,
        ),
    ),
    container=(
        CelFinding(
            "c.?securityContext.?windowsOptions.?hostProcess.orValue(false)",
            _FIELD,
            lit(_CONTAINER),
            "container",
            _FIELD,
            False,
        ),
    ),
)

CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("nonroot", "baseline", "restricted"),
    func=check,
    summary="no Windows HostProcess (pod or container)",
    cel=CEL,
)
