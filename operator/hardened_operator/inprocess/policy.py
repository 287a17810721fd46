"""A profile's checks as a ValidatingAdmissionPolicy and its bindings (pure: dicts, no I/O).

The API server evaluates the policy in its own process (CEL), so no webhook call sits in the
path of a pod creation. Everything in it is derived:

* the checks and their CEL from the policy engine (``Check.cel``, one rule per check, next to
  the Python function it spells again);
* the resources and where each kind carries its pod from ``workloads.POD_BEARING`` (the kinds
  whose pods the builders render, HardenedService, stay the webhook's: CEL cannot run the
  builders);
* the modes from the namespace label the webhook's registration reads
  (``conventions.ENFORCE_LABEL``): absent, ``enforce`` or any unknown value -> Deny, ``warn``
  -> Warn, ``audit`` -> Audit, ``disabled`` -> no binding matches; one binding per mode;
* the exemptions, exact names as the webhook's (``WebhookConfig``): namespaces in every
  binding's ``namespaceSelector``, usernames in the policy's ``matchConditions``;
* the webhook's update rule (``webhook.updates``): an UPDATE that does not change what runs
  (a Pod's images, ephemeral containers, seccomp annotations; a workload's pod template) is
  not evaluated, so an old non-compliant object can still be scaled or labelled.

``failurePolicy: Fail``: an expression that errors, or runs out of its CEL cost budget (a pod
with many thousands of containers), refuses the request; it is never admitted unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from ..conventions import ENFORCE_LABEL
from ..errors import PolicyError
from ..policy import CHECKS, check_ids
from ..policy.cel import CelFinding, CelRule, lit
from ..policy.types import PROFILES, Profile
from ..workloads import POD_BEARING, PodBearingKind

API_VERSION: Final = "admissionregistration.k8s.io/v1"
DEFAULT_NAME: Final = "hardened-operator"
# The profiles whose every check has a CEL rule; the others stay the webhook's.
NAME_LABEL: Final = "kubernetes.io/metadata.name"
# mode -> (the binding's validationActions, the mode label's condition): the webhook's
# registration routes the same label the same way (dev/manifests.py, the chart).
MODES: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "enforce": (
        "Deny",
        {"key": ENFORCE_LABEL, "operator": "NotIn", "values": ["warn", "audit", "disabled"]},
    ),
    "warn": ("Warn", {"key": ENFORCE_LABEL, "operator": "In", "values": ["warn"]}),
    "audit": ("Audit", {"key": ENFORCE_LABEL, "operator": "In", "values": ["audit"]}),
}
_SECCOMP_POD: Final = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER: Final = "container.seccomp.security.alpha.kubernetes.io/"
# How many more findings a denial mentions past the first (the webhook lists up to 20).
_CONTAINER_LISTS: Final = (
    ("initContainers", "initNames", "init container"),
    ("containers", "appNames", "container"),
    ("ephemeralContainers", "ephemeralNames", "ephemeral container"),
)


def supported_profiles() -> tuple[Profile, ...]:
    """The profiles CEL can express whole (every check has a rule)."""
    return tuple(p for p in PROFILES if all(CHECKS[i].cel is not None for i in check_ids(p)))


def missing_cel(profile: Profile) -> list[str]:
    """The checks of ``profile`` without a CEL rule (raises PolicyError for an unknown one)."""
    return [i for i in check_ids(profile) if CHECKS[i].cel is None]


def in_process_kinds() -> tuple[PodBearingKind, ...]:
    """The pod-bearing kinds the policy covers: those whose pod sits in the object."""
    return tuple(k for k in POD_BEARING if k.pod_path is not None)


def webhook_only_kinds() -> tuple[PodBearingKind, ...]:
    """The pod-bearing kinds only the webhook reviews (their pods are rendered)."""
    return tuple(k for k in POD_BEARING if k.pod_path is None)


def resource_rules() -> list[dict[str, Any]]:
    """``matchConstraints.resourceRules``: the covered kinds by API group, subresources spelled
    out (``pods/ephemeralcontainers`` is how ``kubectl debug`` adds a container)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for k in in_process_kinds():
        names = [k.resource, *(f"{k.resource}/{sub}" for sub in k.subresources)]
        grouped.setdefault((k.group, k.version), []).extend(names)
    return [
        {
            "apiGroups": [group],
            "apiVersions": [version],
            "operations": ["CREATE", "UPDATE"],
            "resources": resources,
            "scope": "Namespaced",
        }
        for (group, version), resources in grouped.items()
    ]


def _conditional(root: str, pick: Any, default: str) -> str:
    """``root.kind == 'A' ? pick(A) : ... : default`` over the covered kinds, grouped by
    their pick so the expression stays short."""
    by_value: dict[str, list[str]] = {}
    for k in in_process_kinds():
        by_value.setdefault(pick(k), []).append(k.kind)
    expression = default
    for value, kinds in reversed(list(by_value.items())):
        test = (
            f"{root}.kind == {lit(kinds[0])}"
            if len(kinds) == 1
            else f"{root}.kind in [{', '.join(lit(kind) for kind in kinds)}]"
        )
        expression = f"{test} ? {value} : {expression}"
    return expression


def pod_expression(root: str) -> str:
    """CEL for the pod (metadata + spec) inside ``root`` (``object``, ``oldObject``)."""

    def path(k: PodBearingKind) -> str:
        return ".".join((root, *(k.pod_path or ())))

    # The default is never reached: matchConstraints admit the covered kinds only. It is a
    # field no object has, so reaching it would be an error (and the request refused).
    return _conditional(root, path, f"{root}.unreachable")


def _spec_path_expression() -> str:
    def path(k: PodBearingKind) -> str:
        return lit(".".join((*(k.pod_path or ()), "spec")))

    return _conditional("object", path, lit("spec"))


def variables(profile: Profile) -> list[dict[str, str]]:
    relaxed = "false" if profile.startswith("nonroot") else _RELAXED
    names = [
        {"name": var, "expression": f"variables.spec.?{key}.orValue([]).map(c, c.name)"}
        for key, var, _ in _CONTAINER_LISTS
    ]
    every = " + ".join(f"variables.spec.?{key}.orValue([])" for key, _, _ in _CONTAINER_LISTS)
    return [
        {"name": "pod", "expression": pod_expression("object")},
        {"name": "spec", "expression": "variables.pod.spec"},
        {"name": "specPath", "expression": _spec_path_expression()},
        {
            "name": "subject",
            "expression": "object.kind + ' ' + (object.metadata.?namespace.orValue('') != '' ? "
            "object.metadata.namespace + '/' : '') + object.metadata.?name.orValue('<unnamed>')",
        },
        {"name": "relaxed", "expression": relaxed},
        {"name": "windows", "expression": "variables.spec.?os.?name.orValue('') == 'windows'"},
        *names,
        {"name": "containers", "expression": every},
    ]


# PSA's relaxation for pods in a user namespace (restricted and baseline only, never nonroot).
_RELAXED: Final = "variables.spec.?hostUsers.orValue(true) == false"


def _container_label(c: str = "c") -> str:
    """``init container "x"`` for the container ``c`` (names are unique across the lists)."""
    expression = lit(f"{_CONTAINER_LISTS[-1][2]} ")
    for _, var, label in reversed(_CONTAINER_LISTS[:-1]):
        expression = f"({c}.name in variables.{var} ? {lit(label + ' ')} : {expression})"
    return f"{expression} + '\"' + {c}.name + '\"'"


def _container_path(c: str = "c") -> str:
    """``spec.template.spec.initContainers[0]`` for the container ``c``."""
    key, var, _ = _CONTAINER_LISTS[-1]
    expression = f"{lit(key + '[')} + string(variables.{var}.indexOf({c}.name)) + ']'"
    for key, var, _ in reversed(_CONTAINER_LISTS[:-1]):
        index = f"{lit(key + '[')} + string(variables.{var}.indexOf({c}.name)) + ']'"
        expression = f"({c}.name in variables.{var} ? {index} : {expression})"
    return f"variables.specPath + '.' + {expression}"


def _line(finding: CelFinding, where: str, path: str) -> str:
    """``<where>: <field>: <message> (fix: set <path>: <value>)``, as ``Violation.describe``
    words it."""
    fix_path = (
        f"{path} + {lit('.' + finding.fix_field)}"
        if finding.fix_scope == "container"
        else f"variables.specPath + {lit('.' + finding.fix_field)}"
    )
    before, after = finding.fix_words()
    return (
        f"{where} + ': ' + {path} + {lit('.' + finding.field)} + ': ' + ({finding.message}) + "
        f"{lit(' (fix: ' + before)} + {fix_path} + {lit(after + ')')}"
    )


def message_expression(profile: str, rule: CelRule) -> str:
    """The denial: the first finding of the check, named like the webhook names it (object,
    container, field, message, fix), and how many more the check found.

    Only the first finding's line is built (a container's path costs a scan of its list), so
    the message's cost grows with the number of containers, not with its square.
    """
    pod_lines = " + ".join(
        f"({finding.bad} ? [{_line(finding, 'variables.subject', 'variables.specPath')}] : [])"
        for finding in rule.pod
    )
    if rule.container:
        where = f"variables.subject + ' ' + {_container_label()}"
        path = _container_path()
        per_container = _line(rule.container[-1], where, path)
        for finding in reversed(rule.container[:-1]):
            per_container = f"({finding.bad}) ? ({_line(finding, where, path)}) : ({per_container})"
        bad = f"variables.containers.filter(c, {rule.container_bad()})"
        first = f"[bad[0]].map(c, {per_container})[0]"
    else:
        bad, first = "[]", "''"
    head = lit(f'hardened-operator policy "{profile}": ')
    more = lit(" more (run `hardened audit` on the manifest to see all)")
    count = "size(pod) + size(bad)"
    text = (
        f"{head} + (size(pod) > 0 ? pod[0] : {first}) + ({count} > 1 ? "
        f"' (and ' + string({count} - 1) + {more} + ')' : '')"
    )
    return f"[{pod_lines or '[]'}].map(pod, [{bad}].map(bad, {text})[0])[0]"


def validations(profile: Profile) -> list[dict[str, Any]]:
    missing = missing_cel(profile)
    if missing:
        raise PolicyError(
            f"profile {profile!r} cannot run in-process: no CEL rule for "
            f"{', '.join(missing)}; the webhook enforces it (in-process profiles: "
            f"{', '.join(supported_profiles())})"
        )
    found = []
    for check_id in check_ids(profile):
        rule = CHECKS[check_id].cel
        assert rule is not None  # missing_cel said so
        found.append(
            {
                "expression": rule.expression(),
                "messageExpression": message_expression(profile, rule),
                "message": f'hardened-operator policy "{profile}": check {check_id} failed',
                "reason": "Forbidden",
            }
        )
    return found


def _significant_pod_update() -> str:
    """The webhook's ``is_significant_pod_update`` in CEL: images, ephemeral containers and
    the seccomp annotations are what an UPDATE of a Pod can change about what runs."""
    lists = []
    for key, _, _ in _CONTAINER_LISTS[:-1]:
        new, old = (
            f"{root}.spec.?{key}.orValue([]).map(c, c.image)" for root in ("object", "oldObject")
        )
        lists.append(f"{new} != {old}")
    ephemeral = (
        "object.spec.?ephemeralContainers.orValue([]).exists(c, "
        "!oldObject.spec.?ephemeralContainers.orValue([])"
        ".exists(o, o.name == c.name && o.image == c.image))"
    )
    every = " + ".join(f"object.spec.?{key}.orValue([])" for key, _, _ in _CONTAINER_LISTS)
    keys = f"[{lit(_SECCOMP_POD)}] + ({every}).map(c, {lit(_SECCOMP_CONTAINER)} + c.name)"
    seccomp = (
        f"({keys}).exists(k, object.metadata.?annotations.orValue({{}})[?k] != "
        "oldObject.metadata.?annotations.orValue({})[?k])"
    )
    return " || ".join([*lists, ephemeral, seccomp])


def update_condition() -> str:
    """Evaluate CREATEs, and UPDATEs that change what runs (``webhook.updates``)."""
    template = f"({pod_expression('object')}) != ({pod_expression('oldObject')})"
    return (
        f"request.operation != 'UPDATE' || (object.kind == 'Pod' ? "
        f"({_significant_pod_update()}) : {template})"
    )


def match_conditions(exempt_usernames: Iterable[str]) -> list[dict[str, str]]:
    conditions = []
    users = sorted(set(exempt_usernames))
    if users:
        listed = ", ".join(lit(user) for user in users)
        conditions.append(
            {
                "name": "not-an-exempt-user",
                "expression": f"!(request.userInfo.username in [{listed}])",
            }
        )
    conditions.append({"name": "changes-what-runs", "expression": update_condition()})
    return conditions


def policy_spec(profile: Profile, exempt_usernames: Iterable[str] = ()) -> dict[str, Any]:
    """The ValidatingAdmissionPolicy's ``spec`` for ``profile``."""
    return {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": resource_rules()},
        "matchConditions": match_conditions(exempt_usernames),
        "variables": variables(profile),
        "validations": validations(profile),
    }


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/managed-by": "hardened-operator"}


def binding(
    name: str, mode: str, exempt_namespaces: Iterable[str], mode_label: str = ENFORCE_LABEL
) -> dict[str, Any]:
    """The binding applying policy ``name`` with ``mode``'s action where the label says so."""
    action, label = MODES[mode]
    label = {**label, "key": mode_label}
    expressions: list[dict[str, Any]] = []
    exempt = sorted(set(exempt_namespaces))
    if exempt:
        expressions.append({"key": NAME_LABEL, "operator": "NotIn", "values": exempt})
    expressions.append(label)
    return {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": f"{name}-{mode}", "labels": _labels()},
        "spec": {
            "policyName": name,
            "validationActions": [action],
            "matchResources": {"namespaceSelector": {"matchExpressions": expressions}},
        },
    }


def policy_documents(
    profile: Profile = "nonroot",
    *,
    name: str = DEFAULT_NAME,
    exempt_namespaces: Iterable[str] = (),
    exempt_usernames: Iterable[str] = (),
    mode_label: str = ENFORCE_LABEL,
) -> list[dict[str, Any]]:
    """The policy and its three bindings (enforce, warn, audit), ready to apply; the
    namespace label ``mode_label`` picks the mode (the chart's ``webhook.modeLabel``)."""
    if profile not in PROFILES:
        check_ids(profile)  # raises PolicyError naming the known profiles
    exempt = list(exempt_namespaces)
    policy = {
        "apiVersion": API_VERSION,
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {
            "name": name,
            "labels": {**_labels(), "ai-system.io/profile": _label(profile)},
        },
        "spec": policy_spec(profile, exempt_usernames),
    }
    return [policy, *(binding(name, mode, exempt, mode_label) for mode in MODES)]


def _label(profile: str) -> str:
    """A profile as a label value (``nonroot:allow-root-group`` has a colon)."""
    return profile.replace(":", "-")
