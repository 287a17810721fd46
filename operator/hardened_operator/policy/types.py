"""Value types shared by the checks, the engine and every front end (pure: no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ContainerType = Literal["container", "initContainer", "ephemeralContainer"]
Profile = Literal["nonroot", "restricted"]
PROFILES: tuple[Profile, ...] = ("nonroot", "restricted")
DEFAULT_PROFILE: Profile = "nonroot"


@dataclass(frozen=True)
class Finding:
    """One offending field inside one pod spec.

    ``field`` is relative to the pod spec (``securityContext.runAsNonRoot``,
    ``initContainers[0].securityContext.privileged``); ``review`` prefixes it with the path of
    the pod spec inside its object (``spec.template.spec.``).
    """

    check: str
    field: str
    message: str
    fix: str
    container: str | None = None
    container_type: ContainerType | None = None


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
    """A finding located in an object: what the webhook, audit and builders report."""

    kind: str
    namespace: str | None
    name: str | None
    check: str
    field: str
    message: str
    fix: str
    container: str | None = None
    container_type: ContainerType | None = None

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
