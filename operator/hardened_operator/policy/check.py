"""What a check is, and the read-only view of a pod that checks read (pure: no I/O here).

A check is a pure function of a pod's metadata and spec. The engine wraps both in one
:class:`PodView` per evaluation, so the container list is walked and validated once and not
once per check; ``Check.__call__(metadata, spec)`` builds that view for callers who want to run
one check on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from ..errors import MalformedFieldError
from .fields import JsonObject, opt_bool, opt_mapping, opt_str
from .types import CheckResult, Finding, FixOp, Profile, Scope
from .visitor import ContainerRef, visit_containers

if TYPE_CHECKING:
    from .cel import CelRule

# PSA's two levels, and ``hardened`` for our own checks beyond PSA (evaluated after PSA's).
Level = Literal["baseline", "restricted", "hardened"]
LEVEL_ORDER: dict[str, int] = {"baseline": 0, "restricted": 1, "hardened": 2}
_EMPTY: JsonObject = {}
_T = TypeVar("_T")


class cached_property(Generic[_T]):
    """``functools.cached_property`` without its lock (Python 3.11 takes an RLock on every
    first access, a measurable share of a 12 µs evaluation). A ``PodView`` lives inside one
    evaluation on one thread, so there is nothing to lock against. Like the original, a
    getter that raises caches nothing, so every check that reads the field sees the error.
    """

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> cached_property[_T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value  # later reads never reach this descriptor
        return value


class PodView:
    """One pod (metadata + spec) as the checks see it.

    ``relax_user_namespaces`` is PSA's ``hostUsers: false`` relaxation (policy v1.35+) of the
    runAsNonRoot, runAsUser and baseline procMount checks. The ``restricted`` profile keeps it,
    like PSA; the ``nonroot`` profile turns it off, because UID 0 is never acceptable to us.
    """

    def __init__(
        self,
        metadata: Mapping[str, Any] | None,
        spec: Mapping[str, Any],
        *,
        relax_user_namespaces: bool = True,
    ) -> None:
        self.raw_metadata = metadata
        self.spec: JsonObject = spec
        self.relax_user_namespaces = relax_user_namespaces

    @cached_property
    def containers(self) -> tuple[ContainerRef, ...]:
        return visit_containers(self.spec)

    @cached_property
    def security_context(self) -> JsonObject | None:
        return opt_mapping(self.spec, "securityContext", "")

    @cached_property
    def annotations(self) -> JsonObject:
        metadata = self.raw_metadata
        if metadata is None:
            return _EMPTY
        if not isinstance(metadata, Mapping):
            raise MalformedFieldError("metadata", "an object", metadata)
        annotations = opt_mapping(metadata, "annotations", "metadata")
        return annotations if annotations is not None else _EMPTY

    @cached_property
    def is_windows(self) -> bool:
        """PSA's ``podSpec.OS != nil && podSpec.OS.Name == corev1.Windows``."""
        pod_os = opt_mapping(self.spec, "os", "")
        return pod_os is not None and opt_str(pod_os, "name", "os") == "windows"

    @cached_property
    def user_namespace_relaxed(self) -> bool:
        """PSA's ``relaxPolicyForUserNamespacePod``: hostUsers explicitly false (if allowed)."""
        if not self.relax_user_namespaces:
            return False
        return opt_bool(self.spec, "hostUsers", "") is False


CheckFunc = Callable[[PodView], CheckResult]


@dataclass(frozen=True)
class Check:
    """A registered check: PSA's id and level (``hardened`` for ours), the profiles that run
    it, and the function.

    ``overrides`` names the baseline checks PSA drops when this restricted check runs
    (``restrictedVolumes`` replaces ``hostPathVolumes``, and so on). ``cel`` is the same check
    in CEL, for the API server's in-process policy (``hardened_operator.inprocess``); None
    when it has none yet (that profile then stays the webhook's alone).
    """

    id: str
    level: Level
    profiles: tuple[Profile, ...]
    func: CheckFunc
    summary: str
    overrides: tuple[str, ...] = ()
    cel: CelRule | None = None

    def __call__(
        self,
        metadata: Mapping[str, Any] | None,
        pod_spec: Mapping[str, Any],
        *,
        relax_user_namespaces: bool = True,
    ) -> CheckResult:
        """Run this check alone on one pod (no malformed-input handling: see ``evaluate``)."""
        view = PodView(metadata, pod_spec, relax_user_namespaces=relax_user_namespaces)
        return self.func(view)


# --- message helpers, mirroring PSA's wording -------------------------------------------


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def join_quote(items: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f'"{item}"' for item in items)


def containers_phrase(names: list[str]) -> str:
    """PSA's ``container "a"`` / ``containers "a", "b"``."""
    return f"{pluralize('container', 'containers', len(names))} {join_quote(names)}"


def render_value(value: Any) -> str:
    """A fix value as it would be written in YAML-ish prose: true, 1000, RuntimeDefault, ["ALL"]."""
    # Fast paths for the common scalars: json.dumps costs more than the whole check.
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return str(value)
    return json.dumps(value)


def render_fix(op: FixOp, field: str, value: Any = None) -> str:
    if op == "remove":
        return f"remove {field}"
    return f"set {field}: {render_value(value)}"


def finding(
    check: str,
    field: str,
    message: str,
    *,
    ref: ContainerRef | None = None,
    fix_op: FixOp | None = None,
    fix_field: str | None = None,
    fix_value: Any = None,
    fix: str | None = None,
    scope: Scope = "spec",
) -> Finding:
    """Build a Finding; the fix text is rendered from the structured edit unless given."""
    if fix is None:
        if fix_op is None or fix_field is None:
            raise ValueError("a finding needs a fix text or a structured fix")
        fix = render_fix(fix_op, fix_field, fix_value)
    return Finding(
        check=check,
        field=field,
        message=message,
        fix=fix,
        container=ref.name if ref is not None else None,
        container_type=ref.type if ref is not None else None,
        fix_op=fix_op,
        fix_field=fix_field,
        fix_value=fix_value,
        scope=scope,
    )


def allowed(check_id: str) -> CheckResult:
    return CheckResult(check=check_id, allowed=True)


def denied(check_id: str, reason: str, detail: str, findings: list[Finding]) -> CheckResult:
    return CheckResult(
        check=check_id, allowed=False, reason=reason, detail=detail, findings=tuple(findings)
    )
