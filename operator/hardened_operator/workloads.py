"""Workloads: any Kubernetes object → its pod specs → violations (pure: no I/O here).

It owns the table of pod-bearing kinds (:data:`POD_BEARING`): the webhook's targets, the audit,
and the dev plane's webhook registration all come from it. It also owns the one rule of *who is
judged* when objects are judged together (a cluster, its export, a namespace's report):
:func:`judged_as` -- an object is judged whole, and a finding its judged controlling owner's pod
template has too is attributed to that owner (``ownerReferences`` are the creator's word, not
proof: a forged or diverged child keeps what its owner does not have).

The admission webhook, ``hardened audit`` and the builders' self-check all ask the same
question through :func:`review_object`: which fields of this object would run something as
root (or, under ``restricted``, break PSA's restricted profile)? Paths in the answer start at
the object's root (``spec.template.spec.initContainers[0].securityContext.runAsUser``) so a
person can find the line, and structured fixes (``fix_op``/``fix_field``/``fix_value``) use
the same paths so ``audit --fix`` can apply them.

Kinds that carry no pod (ConfigMap, Service, ...) have no pod specs: callers decide what that
means. Objects of a pod-bearing kind with the wrong shape raise :class:`InputError`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from . import API_GROUP, API_VERSION, KIND, PLURAL
from .errors import InputError, SpecValidationError
from .policy import check_ids, evaluate
from .policy.check import render_fix
from .policy.types import PROFILES, CheckResult, Finding, Profile, Violation


@dataclass(frozen=True)
class PodBearingKind:
    """A kind whose objects carry pod specs: where they are, and how the API serves it.

    ``pod_path`` leads from the object's root to the pod (its ``metadata`` and ``spec``):
    ``()`` when the object is the pod, ``None`` when the builders render its pods
    (HardenedService). ``subresources`` are the ones that can change what runs and so must be
    reviewed too (a webhook rule for ``pods`` does not cover ``pods/ephemeralcontainers``).
    ``made_by`` names the pod-bearing kinds whose controllers create objects of this kind (a
    Deployment's ReplicaSets, a CronJob's Jobs, the operator's Deployments): the owners a
    reader must meet first (:data:`OWNERS_FIRST`).
    """

    kind: str
    group: str  # API group; "" is the core group
    version: str
    resource: str  # the plural a ValidatingWebhookConfiguration's rules name
    pod_path: tuple[str, ...] | None
    subresources: tuple[str, ...] = ()
    made_by: tuple[str, ...] = ()


# The one list of pod-bearing kinds. The reviewer, the webhook's request routing, the webhook
# registrations (``hardened dev``, manifests/, the Helm chart: tests compare them) all derive
# from it, in this order.
POD_BEARING: Final[tuple[PodBearingKind, ...]] = (
    PodBearingKind(
        "Pod",
        "",
        "v1",
        "pods",
        (),
        ("ephemeralcontainers",),
        made_by=("ReplicationController", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"),
    ),
    PodBearingKind(
        "ReplicationController", "", "v1", "replicationcontrollers", ("spec", "template")
    ),
    PodBearingKind("PodTemplate", "", "v1", "podtemplates", ("template",)),
    PodBearingKind(
        "Deployment", "apps", "v1", "deployments", ("spec", "template"), made_by=(KIND,)
    ),
    PodBearingKind(
        "StatefulSet", "apps", "v1", "statefulsets", ("spec", "template"), made_by=(KIND,)
    ),
    PodBearingKind("DaemonSet", "apps", "v1", "daemonsets", ("spec", "template")),
    PodBearingKind(
        "ReplicaSet", "apps", "v1", "replicasets", ("spec", "template"), made_by=("Deployment",)
    ),
    PodBearingKind("Job", "batch", "v1", "jobs", ("spec", "template"), made_by=("CronJob",)),
    PodBearingKind(
        "CronJob", "batch", "v1", "cronjobs", ("spec", "jobTemplate", "spec", "template")
    ),
    PodBearingKind(KIND, API_GROUP, API_VERSION, PLURAL, None),
)

# kind -> resource plural.
POD_BEARING_KINDS: Final[Mapping[str, str]] = {k.kind: k.resource for k in POD_BEARING}

# Where the pod template sits in each kind (Pod itself is the pod: handled apart).
_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    k.kind: k.pod_path for k in POD_BEARING if k.pod_path
}


def admission_resources() -> dict[tuple[str, str], tuple[str, ...]]:
    """(API group, version) -> the resources a webhook must review, subresources spelled out."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for k in POD_BEARING:
        mine = (k.resource, *(f"{k.resource}/{sub}" for sub in k.subresources))
        found[(k.group, k.version)] = found.get((k.group, k.version), ()) + mine
    return found


def _owners_first(kinds: tuple[PodBearingKind, ...]) -> tuple[PodBearingKind, ...]:
    """``kinds`` with every kind after the kinds in its ``made_by`` (stable otherwise)."""
    placed: list[PodBearingKind] = []
    remaining = list(kinds)
    known = {k.kind for k in kinds}
    while remaining:
        done = {k.kind for k in placed}
        ready = [k for k in remaining if all(o in done or o not in known for o in k.made_by)]
        if not ready:
            raise AssertionError(f"made_by has a cycle among {[k.kind for k in remaining]}")
        placed.extend(ready)
        remaining = [k for k in remaining if k not in ready]
    return tuple(placed)


# POD_BEARING in an order where every owner comes before what it makes (HardenedService before
# Deployment before ReplicaSet before Pod, CronJob before Job): a reader going through the
# kinds in this order has met an object's controlling owner, if it could read it, before the
# object, so it knows what the owner found when it judges the object (:func:`judged_as`).
OWNERS_FIRST: Final[tuple[PodBearingKind, ...]] = _owners_first(POD_BEARING)


@dataclass(frozen=True)
class ControllerRef:
    """An object's controlling owner (its ``ownerReferences`` entry with ``controller: true``)."""

    group: str  # API group of its apiVersion; "" is the core group
    kind: str | None
    name: str | None
    uid: str | None


def controller_of(obj: Mapping[str, Any]) -> ControllerRef | None:
    """The controlling owner ``obj`` names, or None (none, or ``ownerReferences`` malformed:
    then nothing vouches for the object and it is judged itself)."""
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, Mapping) else None
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            api_version, kind = ref.get("apiVersion"), ref.get("kind")
            name, uid = ref.get("name"), ref.get("uid")
            return ControllerRef(
                group=api_version.rpartition("/")[0] if isinstance(api_version, str) else "",
                kind=kind if isinstance(kind, str) else None,
                name=name if isinstance(name, str) else None,
                uid=uid if isinstance(uid, str) else None,
            )
    return None


# One finding, as its children would have it: (check id, field from the pod's root:
# ``spec.containers[0].securityContext.runAsUser``, ``metadata.annotations[...]``, the message,
# the container's name and image). A field that is no part of a pod (a HardenedService's own
# ``spec.securityContext``) is kept whole behind ``object:`` so no child's finding can match it.
# Message, name and image are compared too: a forged child with the same field set to another
# value, or in a container running another image, is not its owner's finding.
Signature = tuple[str, str, str, str, str]

_RENDERED = re.compile(r"rendered\[[^\]]*\]\.spec\.template\.")


def pod_relative(kind: str, field: str) -> str:
    """``field`` of a ``kind`` object, from its pod's root (``spec.template.spec.x`` of a
    Deployment and ``spec.x`` of a Pod are both ``spec.x``)."""
    if kind == "Pod":
        return field
    if kind == KIND:
        found = _RENDERED.match(field)
        return field[found.end() :] if found else f"object:{field}"
    keys = _TEMPLATE_PATHS.get(kind)
    prefix = ".".join(keys) + "." if keys else None
    if prefix is not None and field.startswith(prefix):
        return field[len(prefix) :]
    return f"object:{field}"


def signature(violation: Violation, image: str = "") -> Signature:
    """What :func:`judged_as` compares an object's finding with its owner's by; ``image``:
    the image of the container the finding is in ("" for a pod-level finding)."""
    return (
        sys.intern(violation.check),
        sys.intern(pod_relative(violation.kind, violation.field)),
        sys.intern(violation.message),
        sys.intern(violation.container or ""),
        sys.intern(image),
    )


_CONTAINER_AT: Final = re.compile(r"(containers|initContainers|ephemeralContainers)\[(\d+)\]")


def _images(spec: Mapping[str, Any]) -> str:
    """What a pod-level setting applies to: every (init) container's image. Ephemeral ones are
    left out: ``kubectl debug`` adds them to a running Pod, never to its owner's template."""
    found = []
    for key in ("initContainers", "containers"):
        items = spec.get(key)
        for item in items if isinstance(items, list) else ():
            image = item.get("image") if isinstance(item, Mapping) else None
            found.append(image if isinstance(image, str) else "")
    return ",".join(found)


def _image_of(specs: Sequence[PodSpecRef], field: str) -> str:
    """The image of the container ``field`` (from the object's root) lies in; for a pod-level
    field, the images it applies to; "" outside any pod spec."""
    for ref in specs:
        prefix = ref.path + "."
        if not field.startswith(prefix):
            continue
        found = _CONTAINER_AT.match(field, len(prefix))
        if found is None:
            return _images(ref.spec)
        items, index = ref.spec.get(found.group(1)), int(found.group(2))
        if isinstance(items, list) and index < len(items) and isinstance(items[index], Mapping):
            image = items[index].get("image")
            return image if isinstance(image, str) else ""
        return ""
    return ""


def _signatures(obj: Mapping[str, Any], violations: Sequence[Violation]) -> list[Signature]:
    try:
        specs = pod_specs(obj) if violations else []
    except InputError:  # a HardenedService its builders reject: no container to name
        specs = []
    return [signature(v, _image_of(specs, v.field)) for v in violations]


@dataclass(frozen=True, slots=True)
class OwnerFindings:
    """What a judged owner found, all of it (before any of it was attributed to its own
    owner): signatures only, never the object, so a reader can keep one per workload."""

    kind: str
    namespace: str | None
    signatures: frozenset[Signature]


# kind -> the kinds whose controllers make it (``made_by``): the only owners that vouch.
_MADE_BY: Final[Mapping[str, frozenset[str]]] = {k.kind: frozenset(k.made_by) for k in POD_BEARING}
# The kinds that make pod-bearing objects: the only ones whose findings need keeping.
MAKERS: Final = frozenset(maker for k in POD_BEARING for maker in k.made_by)


def _uid(obj: Mapping[str, Any]) -> str | None:
    meta = obj.get("metadata")
    uid = meta.get("uid") if isinstance(meta, Mapping) else None
    return uid if isinstance(uid, str) and uid else None


def _namespace(obj: Mapping[str, Any]) -> str | None:
    meta = obj.get("metadata")
    namespace = meta.get("namespace") if isinstance(meta, Mapping) else None
    return namespace if isinstance(namespace, str) else None


OwnerLookup = Callable[[ControllerRef], OwnerFindings | None]


def judged_as(obj: Mapping[str, Any], owner_findings: OwnerLookup) -> frozenset[Signature]:
    """The one rule of who is judged when objects are judged together: the findings of
    ``obj`` that are its owner's (attributed to it, reported there), by signature.

    ``ownerReferences`` are written by whoever creates the object, so they prove nothing: a
    root Pod made by hand may name the uid of a compliant ReplicaSet. So an object is always
    judged whole, and only a finding its controlling owner's pod template has too (same
    :func:`signature`: check, field from the pod's root, message, container and image) is
    attributed to that owner -- an honest chain
    (Pod -> ReplicaSet -> Deployment, each made from the one above) reduces to its top owner,
    and a forged or diverged child keeps every finding its owner does not have. An ephemeral
    container (``kubectl debug``) is never in an owner's template: it stays the Pod's.

    ``owner_findings`` says what the owner found (all of it), or None when it is not known
    (not read, not in the input, not yet seen): then nothing is attributed (fail safe). It
    vouches only as an owner could: a kind whose controllers make ``obj``'s kind
    (``made_by``: a ReplicaSet for a Pod, never a Pod for a Pod -- no cycles), in the same
    namespace, not ``obj`` itself.
    """
    ref = controller_of(obj)
    if ref is None or ref.uid is None or ref.uid == _uid(obj):
        return frozenset()
    owner = owner_findings(ref)
    kind = obj.get("kind")
    if (
        owner is None
        or not isinstance(kind, str)
        or owner.kind not in _MADE_BY.get(kind, frozenset())
        or owner.namespace != _namespace(obj)
    ):
        return frozenset()
    return owner.signatures


@dataclass(frozen=True)
class Judgement:
    """One object judged beside its owner: what is reported on it, and all it found (what
    its own children are compared with)."""

    reported: list[Violation]
    found: OwnerFindings


def judge(
    obj: Mapping[str, Any], owner_findings: OwnerLookup, profile: Profile = "nonroot"
) -> Judgement:
    """:func:`review_object`, minus what :func:`judged_as` attributes to the owner. Raises
    like ``review_object`` (an object of the wrong shape cannot be judged)."""
    violations = review_object(obj, profile)
    attributed = judged_as(obj, owner_findings) if violations else frozenset()
    signatures = _signatures(obj, violations)
    reported = [v for v, s in zip(violations, signatures, strict=True) if s not in attributed]
    kind = obj.get("kind")
    found = OwnerFindings(
        kind=kind if isinstance(kind, str) else "",
        namespace=_namespace(obj),
        signatures=frozenset(signatures),
    )
    return Judgement(reported, found)


class JudgedOwners:
    """What each judged owner found, by uid (signatures only: bounded by the number of
    workloads, not by their size). Only kinds that make pod-bearing objects are kept."""

    def __init__(self) -> None:
        self._by_uid: dict[str, OwnerFindings] = {}

    def remember(
        self, obj: Mapping[str, Any], found: OwnerFindings, *, merge: bool = False
    ) -> None:
        """Keep what ``obj`` found; ``merge``: two objects claiming one uid (files can say
        anything) vouch only for what both found."""
        uid = _uid(obj)
        if uid is None or found.kind not in MAKERS:
            return
        before = self._by_uid.get(uid)
        if merge and before is not None:
            found = OwnerFindings(
                found.kind if found.kind == before.kind else "",
                found.namespace if found.namespace == before.namespace else None,
                found.signatures & before.signatures,
            )
        self._by_uid[uid] = found

    def forget(self, uid: str) -> None:
        self._by_uid.pop(uid, None)

    def get(self, uid: str) -> OwnerFindings | None:
        return self._by_uid.get(uid)

    def take(self, other: JudgedOwners, uid: str) -> None:
        """``uid`` as ``other`` knows it, or not at all (``other`` has the newer word)."""
        found = other._by_uid.get(uid)
        if found is None:
            self._by_uid.pop(uid, None)
        else:
            self._by_uid[uid] = found

    def __call__(self, ref: ControllerRef) -> OwnerFindings | None:
        return self._by_uid.get(ref.uid) if ref.uid is not None else None

    def __len__(self) -> int:
        return len(self._by_uid)


# HardenedService identity fields that must never be 0 (root user or group).
_IDENTITY_FIELDS: Final = ("runAsUser", "runAsGroup", "fsGroup")
IDENTITY_CHECK: Final = "hardenedServiceIdentity"
SPEC_VALIDATION_CHECK: Final = "hardenedServiceSpec"


@dataclass(frozen=True)
class PodSpecRef:
    """One pod spec inside an object.

    ``path`` locates the spec from the object's root (``spec.template.spec``) and
    ``metadata_path`` the pod metadata (``spec.template.metadata``). ``rendered`` is True for
    the pod templates a HardenedService *becomes* (they are not fields of the object, so
    their fixes cannot be applied to it).
    """

    path: str
    metadata_path: str
    metadata: Mapping[str, Any] | None
    spec: Mapping[str, Any]
    rendered: bool = False


def _describe(obj: Mapping[str, Any]) -> str:
    kind = obj.get("kind")
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{kind} {name}" if isinstance(name, str) else str(kind)


def _mapping_at(obj: Mapping[str, Any], keys: tuple[str, ...], what: str) -> Mapping[str, Any]:
    node: Any = obj
    walked: list[str] = []
    for key in keys:
        walked.append(key)
        node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            path = ".".join(walked)
            found = "missing" if node is None else f"a {type(node).__name__}, not an object"
            raise InputError(f"{what}: {path} is {found}")
    result: Mapping[str, Any] = node
    return result


def _optional_mapping(obj: Mapping[str, Any], key: str, path: str, what: str) -> Any:
    value = obj.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise InputError(f"{what}: {path} must be an object, not {type(value).__name__}")
    return value


def _kind(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        raise InputError(f"a Kubernetes object must be a mapping, not {type(obj).__name__}")
    kind = obj.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise InputError(f"kind must be a string, not {type(kind).__name__}")
    return kind


def pod_specs(obj: Mapping[str, Any]) -> list[PodSpecRef]:
    """The pod specs an object carries; [] for kinds that carry none.

    A HardenedService's pod specs are the templates it renders to
    (``hardened_operator.builders.pod_templates``); a spec the builders reject raises
    ``SpecValidationError`` (use :func:`review_object` to get it as a violation).
    """
    kind = _kind(obj)
    if kind is None or kind not in POD_BEARING_KINDS:
        return []
    what = _describe(obj)
    if kind == "Pod":
        spec = _mapping_at(obj, ("spec",), what)
        metadata = _optional_mapping(obj, "metadata", "metadata", what)
        return [PodSpecRef("spec", "metadata", metadata, spec)]
    if kind == "HardenedService":
        return _hardened_service_pod_specs(obj)
    keys = _TEMPLATE_PATHS[kind]
    template = _mapping_at(obj, keys, what)
    base = ".".join(keys)
    spec = _mapping_at(template, ("spec",), f"{what}: {base}")
    metadata = _optional_mapping(template, "metadata", f"{base}.metadata", what)
    return [PodSpecRef(f"{base}.spec", f"{base}.metadata", metadata, spec)]


def _hardened_service_pod_specs(obj: Mapping[str, Any]) -> list[PodSpecRef]:
    # Imported here: builders pull in pydantic, which the webhook and audit only pay for
    # when a HardenedService actually shows up.
    from . import builders

    refs: list[PodSpecRef] = []
    for label, template in builders.pod_templates(obj):
        base = f"rendered[{label}].spec.template"
        if not isinstance(template, Mapping) or not isinstance(template.get("spec"), Mapping):
            raise InputError(f"{label}: the rendered pod template has no spec")
        metadata = template.get("metadata")
        refs.append(
            PodSpecRef(
                f"{base}.spec",
                f"{base}.metadata",
                metadata if isinstance(metadata, Mapping) else None,
                template["spec"],
                rendered=True,
            )
        )
    return refs


def review_object(obj: Mapping[str, Any], profile: Profile = "nonroot") -> list[Violation]:
    """Every violation in one object; ``[]`` means allowed (or: not a pod-bearing kind).

    An unknown ``profile`` raises ``PolicyError`` whatever the object, so a misconfigured
    front end fails on its first request instead of on its first pod.
    """
    if type(profile) is not str or profile not in PROFILES:
        check_ids(profile)  # raises PolicyError for an unknown profile
    kind = _kind(obj)
    if kind is None or kind not in POD_BEARING_KINDS:
        return []
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif type(metadata) is not dict and not isinstance(metadata, Mapping):
        # Described only now: building the text on every call costs more than the check.
        _optional_mapping(obj, "metadata", "metadata", _describe(obj))  # raises
    namespace = _optional_str(metadata, "namespace")
    name = _optional_str(metadata, "name")

    if kind != "HardenedService":
        parts = _plain_pod_spec(obj, kind)
        if parts is not None:
            # The usual admission: one well-shaped pod spec. Evaluate it straight away and
            # build paths (PodSpecRef, _locate) only when something failed.
            results = evaluate(parts[0], parts[1], profile)
            for result in results:
                if not result.allowed:
                    return _located(pod_specs(obj), [results], kind, namespace, name, [])
            return []

    violations: list[Violation] = []
    if kind == "HardenedService":
        violations.extend(_identity_violations(obj, namespace, name))
        try:
            refs = pod_specs(obj)
        except InputError as error:
            # The builders refuse this spec (SpecValidationError names the field): deny.
            field = (error.field if isinstance(error, SpecValidationError) else None) or "spec"
            if not any(v.field == field for v in violations):
                violations.append(
                    Violation(
                        kind=kind,
                        namespace=namespace,
                        name=name,
                        check=SPEC_VALIDATION_CHECK,
                        field=field,
                        message=f"invalid HardenedService spec: {error}",
                        fix=f"correct {field} (see `hardened crd` for the schema)",
                    )
                )
            return violations
    else:
        refs = pod_specs(obj)

    results_per_ref = [evaluate(ref.metadata, ref.spec, profile) for ref in refs]
    return _located(refs, results_per_ref, kind, namespace, name, violations)


def _plain_pod_spec(
    obj: Mapping[str, Any], kind: str
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any]] | None:
    """(pod metadata, pod spec) of a Pod or workload made of plain dicts, else None.

    A fast path only: ``None`` sends the caller to :func:`pod_specs`, which accepts any
    Mapping and raises the descriptive errors for wrong shapes.
    """
    keys = _TEMPLATE_PATHS.get(kind)
    if keys is None:  # a Pod: the object is the pod
        pod: Any = obj
    else:
        pod = obj
        for key in keys:
            pod = pod.get(key)
            if type(pod) is not dict:
                return None
    spec = pod.get("spec")
    metadata = pod.get("metadata")
    if type(spec) is not dict or (metadata is not None and type(metadata) is not dict):
        return None
    return metadata, spec


def _located(
    refs: list[PodSpecRef],
    results_per_ref: list[list[CheckResult]],
    kind: str,
    namespace: str | None,
    name: str | None,
    violations: list[Violation],
) -> list[Violation]:
    """``violations`` plus the failing results' findings, located in the object."""
    seen: set[tuple[str, str]] = set()
    for ref, results in zip(refs, results_per_ref, strict=True):
        for result in results:
            if result.allowed:
                continue
            for item in result.findings:
                violation = _locate(item, ref, kind, namespace, name)
                # A malformed field trips every check that reads it: report it once.
                key = (violation.field, violation.message)
                if key not in seen:
                    seen.add(key)
                    violations.append(violation)
    return violations


def _optional_str(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InputError(f"metadata.{key} must be a string, not {type(value).__name__}")


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if field else prefix


def _locate(
    item: Finding, ref: PodSpecRef, kind: str, namespace: str | None, name: str | None
) -> Violation:
    prefix = ref.metadata_path if item.scope == "metadata" else ref.path
    fix = item.fix
    fix_op = item.fix_op
    fix_field = None
    fix_value = item.fix_value
    if fix_op is not None and item.fix_field is not None:
        fix_field = _join(prefix, item.fix_field)
        fix = render_fix(fix_op, fix_field, fix_value)
    if ref.rendered:
        # Not a field of the object: say where it comes from, offer no machine fix.
        fix = f"{fix} (in the pod template the operator renders from this HardenedService)"
        fix_op, fix_field, fix_value = None, None, None
    return Violation(
        kind=kind,
        namespace=namespace,
        name=name,
        check=item.check,
        field=_join(prefix, item.field),
        message=item.message,
        fix=fix,
        container=item.container,
        container_type=item.container_type,
        fix_op=fix_op,
        fix_field=fix_field,
        fix_value=fix_value,
    )


def _identity_violations(
    obj: Mapping[str, Any], namespace: str | None, name: str | None
) -> list[Violation]:
    """spec.securityContext.runAsUser/runAsGroup/fsGroup set to 0 (root), or not integers."""
    spec = obj.get("spec")
    sc = spec.get("securityContext") if isinstance(spec, Mapping) else None
    if not isinstance(sc, Mapping):
        return []  # absent means the safe defaults; other shapes are the schema's to report
    found: list[Violation] = []
    for key in _IDENTITY_FIELDS:
        value = sc.get(key)
        field = f"spec.securityContext.{key}"
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            message = f"{key} must be an integer, got {type(value).__name__}"
        elif value == 0:
            message = (
                f"{key}=0 runs the service as root ({'user' if key == 'runAsUser' else 'group'} 0)"
            )
        else:
            continue
        found.append(
            Violation(
                kind="HardenedService",
                namespace=namespace,
                name=name,
                check=IDENTITY_CHECK,
                field=field,
                message=message,
                fix=render_fix("set", field, 1000),
                fix_op="set",
                fix_field=field,
                fix_value=1000,
            )
        )
    return found
