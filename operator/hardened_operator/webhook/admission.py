"""The admission decision as a pure function: AdmissionReview dict in, response dict out.

No HTTP, no clock, no cluster: ``decide`` can be called from tests, the HTTP handler and the
operator alike. Order of the decision (each step can end it):

1. the envelope: an ``admission.k8s.io/v1`` AdmissionReview with ``request.uid`` - otherwise
   ``BadReview`` (the HTTP layer answers 400, there is no uid to echo);
2. a malformed request (bad operation, resource, kind, names) -> denial, code 400;
3. DELETE and CONNECT -> allowed;
4. resources without a pod spec -> allowed; ignored subresources -> allowed;
5. exempt namespace or username (exact match) -> allowed;
6. the object must be of the kind the resource promises -> otherwise denial, code 400;
7. UPDATE: insignificant changes (see ``updates``) -> allowed;
8. the policy: violations -> denied (enforce), warnings (warn) or audit annotations (audit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple, get_args

from hardened_operator import workloads
from hardened_operator.errors import InputError
from hardened_operator.policy.types import Profile, Violation
from hardened_operator.webhook import responses
from hardened_operator.webhook.config import MODES, WebhookConfig
from hardened_operator.webhook.kinds import (
    IGNORED_POD_SUBRESOURCES,
    IGNORED_WORKLOAD_SUBRESOURCES,
    KIND_TO_RESOURCE,
    TARGETS,
    Target,
    group_of,
)
from hardened_operator.webhook.service_warnings import add_spec_warnings
from hardened_operator.webhook.updates import (
    is_significant_pod_update,
    is_significant_workload_update,
)

log = logging.getLogger(__name__)

# workloads.review_object or a memo in front of it (webhook.cache.ReviewCache.violations).
Reviewer = Callable[[Mapping[str, Any], Profile], list[Violation]]

# What became of a request: the label ``verdict`` of ``hardened_webhook_decisions_total``
# (docs/webhook.md lists them; tests/webhook/test_webhook_verdicts.py keeps that list equal).
Verdict = Literal[
    "allow",  # evaluated, no violation
    "deny",  # enforce mode, violations
    "warn",  # warn mode, violations: allowed with warnings
    "audit",  # audit mode, violations: allowed with audit annotations
    "exempt",  # exempt namespace or username
    "skip",  # nothing to evaluate: other kind, DELETE/CONNECT, subresource, minor update
    "invalid",  # malformed request or object: denied with code 400
    "error",  # the policy engine failed: denied with code 500 (fail closed)
]
VERDICTS: Final[tuple[Verdict, ...]] = get_args(Verdict)
OTHER_KIND: Final = "other"
OPERATIONS: Final = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
MAX_UID_CHARS: Final = 128  # real uids are 36 characters; never echo a megabyte back


class BadReview(InputError):
    """A body that is not an AdmissionReview with a uid: nothing to answer but HTTP 400."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The response to send plus what the metrics and logs need to know about it."""

    response: dict[str, Any]
    verdict: Verdict
    kind: str  # one of our kinds, or "other": bounded, so safe as a metric label
    checks: tuple[str, ...] = ()  # distinct failing check ids
    note: str = ""  # why, for skip/exempt/invalid/error (short, for logs)

    @property
    def allowed(self) -> bool:
        return bool(self.response["response"]["allowed"])


class _Request(NamedTuple):
    """The fields of a request the decision reads (a NamedTuple: built on every request, and
    a frozen dataclass costs several times more to construct)."""

    uid: str
    operation: str
    group: str
    resource: str
    subresource: str
    kind_group: str
    kind: str
    namespace: str
    username: str
    obj: Any
    old_obj: Any


class _Malformed(Exception):
    """Internal: a request we can answer (uid known) but not evaluate."""


def _string(container: Mapping[str, Any], key: str, where: str, *, required: bool) -> str:
    value = container.get(key)
    if type(value) is str:  # the common case first: no message is built on the happy path
        return value
    if value is None:
        if required:
            raise _Malformed(f"{where}.{key} is missing")
        return ""
    if not isinstance(value, str):
        raise _Malformed(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def _mapping(container: Mapping[str, Any], key: str, where: str, *, required: bool) -> Any:
    value = container.get(key)
    if type(value) is dict:
        return value
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _Malformed(f"{where}.{key} must be an object")
    return value


def _envelope(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise BadReview("body is not a JSON object")
    if body.get("apiVersion") != responses.API_VERSION or body.get("kind") != responses.KIND:
        raise BadReview(
            f"body is not an {responses.API_VERSION} {responses.KIND} "
            f"(apiVersion={body.get('apiVersion')!r}, kind={body.get('kind')!r})"
        )
    request = body.get("request")
    if not isinstance(request, dict):
        raise BadReview("AdmissionReview has no request object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_CHARS:
        raise BadReview("request.uid must be a non-empty string of at most 128 characters")
    return uid, request


def _parse(uid: str, request: dict[str, Any]) -> _Request:
    operation = _string(request, "operation", "request", required=True)
    if operation not in OPERATIONS:
        raise _Malformed(f"request.operation {operation!r} is not one of {sorted(OPERATIONS)}")
    resource = _mapping(request, "resource", "request", required=True)
    kind = _mapping(request, "kind", "request", required=True)
    user = _mapping(request, "userInfo", "request", required=False)
    return _Request(
        uid=uid,
        operation=operation,
        group=_string(resource, "group", "request.resource", required=False),
        resource=_string(resource, "resource", "request.resource", required=True),
        subresource=_string(request, "subResource", "request", required=False),
        kind_group=_string(kind, "group", "request.kind", required=False),
        kind=_string(kind, "kind", "request.kind", required=True),
        namespace=_string(request, "namespace", "request", required=False),
        username=_string(user, "username", "request.userInfo", required=False),
        obj=request.get("object"),
        old_obj=request.get("oldObject"),
    )


def _object_mismatch(obj: Any, target: Target, what: str) -> str | None:
    """Why ``obj`` is not a ``target.kind`` object, or None when it is one."""
    if isinstance(obj, dict):
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if (
            isinstance(api_version, str)
            and isinstance(kind, str)
            and kind == target.kind
            and group_of(api_version) == target.group
        ):
            return None  # the common case: no message to build
    expected = f"{target.group}/{target.kind}" if target.group else target.kind
    if not isinstance(obj, dict):
        return f"request.{what} must be a {expected} object, got {type(obj).__name__}"
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return f"request.{what} has no apiVersion/kind; expected {expected}"
    return f"request.{what} is {api_version} {kind}, expected {expected}"


def _invalid(uid: str, kind: str, message: str) -> Decision:
    response = responses.denied(uid, code=400, reason="BadRequest", message=message)
    return Decision(response, "invalid", kind, note=message)


def _outcome(
    req: _Request, kind: str, config: WebhookConfig, mode: str, reviewer: Reviewer | None
) -> Decision:
    """Steps 3-8 for a parsed request."""
    uid = req.uid
    if req.operation in ("DELETE", "CONNECT"):
        return Decision(responses.allowed(uid), "skip", kind, note=req.operation)
    target = TARGETS.get((req.group, req.resource))
    if target is None:
        if (req.kind_group, req.kind) in KIND_TO_RESOURCE and not req.subresource:
            return _invalid(
                uid, kind, f"request.kind {req.kind} does not match resource {req.resource}"
            )
        return Decision(responses.allowed(uid), "skip", kind, note="no pod spec")
    is_pod = target.kind == "Pod"
    ignored = IGNORED_POD_SUBRESOURCES if is_pod else IGNORED_WORKLOAD_SUBRESOURCES
    if req.subresource in ignored:
        return Decision(responses.allowed(uid), "skip", kind, note=req.subresource)
    if not req.subresource and (req.kind_group, req.kind) != target:
        return _invalid(uid, kind, f"request.kind {req.kind} does not match {req.resource}")
    if req.namespace and req.namespace in config.exempt_namespaces:
        return Decision(responses.allowed(uid), "exempt", kind, note="namespace")
    if req.username and req.username in config.exempt_usernames:
        return Decision(responses.allowed(uid), "exempt", kind, note="username")
    mismatch = _object_mismatch(req.obj, target, "object")
    if mismatch is not None:
        return _invalid(uid, kind, mismatch)
    obj: dict[str, Any] = req.obj
    if req.operation == "UPDATE" and _object_mismatch(req.old_obj, target, "oldObject") is None:
        try:
            significant = (
                is_significant_pod_update(obj, req.old_obj)
                if is_pod
                else is_significant_workload_update(obj, req.old_obj)
            )
        except InputError as exc:
            return _invalid(uid, kind, f"{target.kind}: {exc}")
        if not significant:
            return Decision(responses.allowed(uid), "skip", kind, note="insignificant update")
    return _verdict(uid, kind, obj, config, mode, reviewer)


def _verdict(
    uid: str,
    kind: str,
    obj: dict[str, Any],
    config: WebhookConfig,
    mode: str,
    reviewer: Reviewer | None,
) -> Decision:
    try:
        if reviewer is None:
            violations: list[Violation] = workloads.review_object(obj, config.profile)
        else:
            violations = reviewer(obj, config.profile)
    except (InputError, RecursionError) as exc:
        return _invalid(uid, kind, f"{obj.get('kind')}: {exc}")
    except Exception:  # fail closed: a policy bug must never admit a pod
        log.exception("policy evaluation failed for %s %s; denying", kind, uid)
        message = "hardened-operator could not evaluate the object (internal error); denied"
        response = responses.denied(uid, code=500, reason="InternalError", message=message)
        return Decision(response, "error", kind, note="policy raised")
    if not violations:
        return Decision(responses.allowed(uid), "allow", kind)
    checks = tuple(sorted({v.check for v in violations}))
    profile = config.profile
    if mode == "enforce":
        message = responses.denial_message(profile, violations)
        response = responses.denied(uid, code=403, reason="Forbidden", message=message)
        return Decision(response, "deny", kind, checks)
    if mode == "warn":
        body = {"allowed": True, "warnings": responses.warnings(profile, violations)}
        return Decision(responses.review(uid, body), "warn", kind, checks)
    body = {"allowed": True, "auditAnnotations": responses.audit_annotations(profile, violations)}
    return Decision(responses.review(uid, body), "audit", kind, checks)


def evaluate_review(
    body: Any,
    config: WebhookConfig,
    mode: str = "enforce",
    *,
    reviewer: Reviewer | None = None,
) -> Decision:
    """Decide on a decoded AdmissionReview.

    Raises ``BadReview`` when there is no uid to answer to; every other problem becomes a
    denial that echoes the uid. Never returns ``allowed: true`` for input it could not read.
    ``reviewer`` replaces ``workloads.review_object`` (the HTTP app passes its ``ReviewCache``).
    """
    uid, request = _envelope(body)
    kind = _kind_label(request)
    if mode not in MODES:
        shown = mode if len(mode) <= 40 else mode[:40] + "..."
        return _invalid(uid, kind, f"unknown mode {shown!r}; expected one of {list(MODES)}")
    try:
        parsed = _parse(uid, request)
    except _Malformed as exc:
        return _invalid(uid, kind, str(exc))
    decision = _outcome(parsed, kind, config, mode, reviewer)
    add_spec_warnings(decision.response, parsed.operation, parsed.obj)  # advice, never a verdict
    return decision


def decide(body: Any, config: WebhookConfig, mode: str = "enforce") -> dict[str, Any]:
    """The AdmissionReview response for ``body`` (see ``evaluate_review``)."""
    return evaluate_review(body, config, mode).response


def _kind_label(request: Mapping[str, Any]) -> str:
    """The metric/log label: our kind for our resources, "other" for everything else."""
    resource = request.get("resource")
    if not isinstance(resource, dict):
        return OTHER_KIND
    group, name = resource.get("group") or "", resource.get("resource")
    if not isinstance(group, str) or not isinstance(name, str):
        return OTHER_KIND
    target = TARGETS.get((group, name))
    return target.kind if target is not None else OTHER_KIND
