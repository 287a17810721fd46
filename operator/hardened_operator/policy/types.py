"""Value types shared by the checks, the engine and every front end (pure: no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ContainerType = Literal["container", "initContainer", "ephemeralContainer"]
FixOp = Literal["set", "remove"]
Scope = Literal["spec", "metadata"]
Profile = Literal["nonroot", "nonroot:allow-root-group", "baseline", "restricted"]
# ``nonroot:allow-root-group`` is ``nonroot`` with its one switch: the rootGroups check off, for
# platforms that rely on GID 0 (OpenShift's arbitrary UIDs run in group 0, for example). The
# switch is part of the profile name so that every front end that selects a profile (audit,
# webhook, operator, Helm value, Python API) reaches it the same way.
PROFILES: tuple[Profile, ...] = ("nonroot", "nonroot:allow-root-group", "baseline", "restricted")
DEFAULT_PROFILE: Profile = "nonroot"


@dataclass(frozen=True)
class Finding:
    """One offending field inside one pod spec.

    ``field`` is relative to the pod spec (``securityContext.runAsNonRoot``,
    ``initContainers[0].securityContext.privileged``), or to the pod metadata when ``scope``
    is ``"metadata"`` (``annotations[container.apparmor.security.beta.kubernetes.io/app]``);
    ``review`` prefixes it with the path of the pod spec (or metadata) inside its object.

    ``fix`` is the human instruction. When the fix is a single field edit it is also given
    structurally, in the same scope: ``fix_op`` ("set" or "remove"), ``fix_field`` (relative
    path) and ``fix_value`` (JSON value to set), so front ends can apply or re-render it.
    """

    check: str
    field: str
    message: str
    fix: str
    container: str | None = None
    container_type: ContainerType | None = None
    fix_op: FixOp | None = None
    fix_field: str | None = None
    fix_value: Any = None
    scope: Scope = "spec"


@dataclass(frozen=True)
class CheckResult:
    """What one check says about one pod spec (PSA's allowed/reason/detail, plus structure)."""

    check: str
    allowed: bool
    reason: str = ""
    detail: str = ""
    findings: tuple[Finding, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Violation:
    """A finding located in an object: what the webhook, audit and builders report.

    ``field`` and ``fix_field`` are paths from the object's root
    (``spec.template.spec.initContainers[0].securityContext.runAsUser``).
    """

    kind: str
    namespace: str | None
    name: str | None
    check: str
    field: str
    message: str
    fix: str
    container: str | None = None
    container_type: ContainerType | None = None
    fix_op: FixOp | None = None
    fix_field: str | None = None
    fix_value: Any = None

    def describe(self) -> str:
        """One line for humans: which object, which container, which field, how to fix it."""
        prefix = f"{self.namespace}/" if self.namespace else ""
        obj = f"{self.kind} {prefix}{self.name or '<unnamed>'}"
        where = ""
        if self.container is not None:
            label = {
                "container": "container",
                "initContainer": "init container",
                "ephemeralContainer": "ephemeral container",
            }[self.container_type or "container"]
            where = f' {label} "{self.container}"'
        return f"{obj}{where}: {self.field}: {self.message} (fix: {self.fix})"
