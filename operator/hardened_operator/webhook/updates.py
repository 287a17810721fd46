"""PSA's significant-update rule: which UPDATEs are worth re-checking.

Pods are mostly immutable: the only fields of a running Pod that can change what runs are
container images, ephemeral containers and (legacy) seccomp annotations. PSA re-evaluates a
Pod update only when one of those changes (admission.go ``isSignificantPodUpdate``); we do
the same, so that labelling or annotating an old root pod keeps working while swapping its
image does not.

Workloads (Deployment, CronJob, HardenedService, …) are re-checked only when their pod
template - metadata and spec - changes, so scaling an old root Deployment is allowed while
changing its image is not. PSA never *enforces* on workloads; we do, hence this rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeGuard

from hardened_operator import workloads

_SECCOMP_POD_ANNOTATION: Final = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_ANNOTATION_PREFIX: Final = "container.seccomp.security.alpha.kubernetes.io/"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list) else ()


_CONTAINER_FIELDS: Final = ("containers", "initContainers", "ephemeralContainers")


def _readable(spec: Any) -> TypeGuard[Mapping[str, Any]]:
    """A pod spec whose container lists are lists of objects (absent is fine).

    Anything else cannot be compared honestly: two identical garbage lists are "unchanged",
    and skipping them would admit an object nobody evaluated. Unreadable means significant.
    """
    if not isinstance(spec, Mapping):
        return False
    for field in _CONTAINER_FIELDS:
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(c, Mapping) for c in value):
            return False
    return True


def _annotations(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(pod.get("metadata")).get("annotations"))


def _container_changed(
    new: Any, old: Any, annotations: Mapping[str, Any], old_annotations: Mapping[str, Any]
) -> bool:
    new_c, old_c = _mapping(new), _mapping(old)
    if new_c.get("image") != old_c.get("image"):
        return True
    key = f"{_SECCOMP_CONTAINER_ANNOTATION_PREFIX}{new_c.get('name')}"
    return annotations.get(key) != old_annotations.get(key)


def is_significant_pod_update(pod: Mapping[str, Any], old_pod: Mapping[str, Any]) -> bool:
    """True when the update could change what runs: re-check the whole Pod.

    Anything we cannot read as a Pod counts as significant: unsure means evaluate.
    """
    spec, old_spec = pod.get("spec"), old_pod.get("spec")
    if not _readable(spec) or not _readable(old_spec):
        return True
    annotations, old_annotations = _annotations(pod), _annotations(old_pod)
    if annotations.get(_SECCOMP_POD_ANNOTATION) != old_annotations.get(_SECCOMP_POD_ANNOTATION):
        return True
    for field in ("containers", "initContainers"):
        new_list, old_list = _sequence(spec.get(field)), _sequence(old_spec.get(field))
        if len(new_list) != len(old_list):
            return True
        for new, old in zip(new_list, old_list, strict=True):
            if _container_changed(new, old, annotations, old_annotations):
                return True
    old_ephemeral = {
        _mapping(c).get("name"): c for c in _sequence(old_spec.get("ephemeralContainers"))
    }
    for container in _sequence(spec.get("ephemeralContainers")):
        name = _mapping(container).get("name")
        if name not in old_ephemeral:
            return True  # an ephemeral container was added: kubectl debug
        if _container_changed(container, old_ephemeral[name], annotations, old_annotations):
            return True
    return False


def _templates(obj: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = [
        (ref.path, ref.metadata, ref.spec) for ref in workloads.pod_specs(obj)
    ]
    if obj.get("kind") == "HardenedService":
        # Its identity fields are checked on the object itself, not only as rendered.
        spec = obj.get("spec")
        identity = spec.get("securityContext") if isinstance(spec, Mapping) else None
        found.append(("spec.securityContext", None, identity))
    return found


def is_significant_workload_update(obj: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """True when a pod template (metadata or spec) differs between ``old`` and ``obj``.

    Anything we cannot compare counts as significant, so the new object gets evaluated (and
    ``workloads.review_object`` reports what is wrong with it).
    """
    try:
        new_templates = _templates(obj)
        if not all(_readable(spec) for path, _, spec in new_templates if path.endswith("spec")):
            return True
        return new_templates != _templates(old)
    except Exception:  # unreadable templates or absurd nesting: do not guess, evaluate
        return True
