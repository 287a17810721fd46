"""Pod templates: the hardened identity, volumes, GPUs and probes (pure: no I/O here)."""

from __future__ import annotations

from typing import Any, Final

from hardened_operator import conventions
from hardened_operator.builders.availability import topology_spread
from hardened_operator.builders.labels import COMPONENT_WORKLOAD, object_labels, selector_labels
from hardened_operator.model import HardenedService
from hardened_operator.model.probe import Probe

APP_CONTAINER: Final = "app"
DEBUG_CONTAINER: Final = "debug"
TMP_VOLUME: Final = "tmp"
TMP_PATH: Final = "/tmp"
# Access modes a pod on another node can attach while the first pod holds the claim.
_SHAREABLE_MODES: Final = frozenset({"ReadWriteMany", "ReadOnlyMany"})
# The seed's debug profile: a shell that waits to be exec'd into. Sleeping in the background and
# waiting lets the shell handle SIGTERM at once instead of after the sleep.
DEBUG_COMMAND: Final = (
    "sh",
    "-c",
    "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
)

# Probe timings from the seed's HEALTHCHECK (interval 30 s, timeout 10 s, 3 retries, 60 s start
# period). The startup probe checks every 10 s and allows the start period plus the retries.
STARTUP_PERIOD_SECONDS: Final = 10
STARTUP_FAILURE_THRESHOLD: Final = (
    conventions.HEALTH_START_PERIOD_SECONDS // STARTUP_PERIOD_SECONDS + conventions.HEALTH_RETRIES
)
_PROBE_DEFAULTS: Final[dict[str, dict[str, int]]] = {
    "startup": {
        "periodSeconds": STARTUP_PERIOD_SECONDS,
        "timeoutSeconds": conventions.HEALTH_TIMEOUT_SECONDS,
        "failureThreshold": STARTUP_FAILURE_THRESHOLD,
    },
    "liveness": {
        "periodSeconds": conventions.HEALTH_INTERVAL_SECONDS,
        "timeoutSeconds": conventions.HEALTH_TIMEOUT_SECONDS,
        "failureThreshold": conventions.HEALTH_RETRIES,
    },
    "readiness": {
        "periodSeconds": conventions.HEALTH_INTERVAL_SECONDS,
        "timeoutSeconds": conventions.HEALTH_TIMEOUT_SECONDS,
        "failureThreshold": conventions.HEALTH_RETRIES,
    },
}
PROBE_KINDS: Final = ("startup", "liveness", "readiness")
_PROBE_TIMINGS: Final = (
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
)


def pod_security_context(hs: HardenedService) -> dict[str, Any]:
    """Pod-level identity: never root, the spec's UID/GID/fsGroup, RuntimeDefault seccomp."""
    sc = hs.spec.securityContext
    return {
        "runAsNonRoot": True,
        "runAsUser": sc.runAsUser,
        "runAsGroup": sc.runAsGroup,
        "fsGroup": sc.fsGroup,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(hs: HardenedService) -> dict[str, Any]:
    """Container-level hardening, repeated per container so no container can opt out."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": hs.spec.securityContext.readOnlyRootFilesystem,
        "runAsNonRoot": True,
    }


def default_probe_handler(hs: HardenedService) -> dict[str, Any] | None:
    """TCP check of the first TCP port; without one, nothing.

    No exec default: a command such as ``python -c ...`` exists only in some images, and a
    probe that cannot run fails forever (a restart loop). The admission warnings say so.
    """
    for port in hs.spec.ports or []:
        if port.protocol == "TCP":
            return {"tcpSocket": {"port": port.containerPort}}
    return None


def probe(hs: HardenedService, kind: str) -> dict[str, Any] | None:
    """The ``kind`` (startup/liveness/readiness) probe: the user's fields over our defaults.

    None when there is no handler to run: the spec gives none and there is no TCP port.
    """
    given: Probe | None = getattr(hs.spec.probes, kind, None) if hs.spec.probes else None
    handler = (given.handler() if given is not None else None) or default_probe_handler(hs)
    if handler is None:
        return None
    result: dict[str, Any] = dict(handler)
    timings = dict(_PROBE_DEFAULTS[kind])
    if given is not None:
        for name in _PROBE_TIMINGS:
            value = getattr(given, name)
            if value is not None:
                timings[name] = value
    for name in _PROBE_TIMINGS:  # fixed key order: deterministic output
        if name in timings:
            result[name] = timings[name]
    return result


def volume_mounts(hs: HardenedService) -> list[dict[str, Any]]:
    """/tmp always, then each enabled volume at /app/<volume>."""
    mounts = [{"name": TMP_VOLUME, "mountPath": TMP_PATH}]
    for name, _ in hs.spec.volumes.enabled():
        mounts.append({"name": name, "mountPath": f"{conventions.APP_ROOT}/{name}"})
    return mounts


def pod_volumes(hs: HardenedService, claim_names: dict[str, str] | None) -> list[dict[str, Any]]:
    """The emptyDir behind /tmp and one PVC per enabled volume.

    ``claim_names`` None: a StatefulSet's pod, whose claims come from its volumeClaimTemplates
    (named like the volumes, so the mounts find them without a pod volume).
    """
    volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {}}]
    if claim_names is None:
        return volumes
    for name, _ in hs.spec.volumes.enabled():
        volumes.append({"name": name, "persistentVolumeClaim": {"claimName": claim_names[name]}})
    return volumes


def resources(hs: HardenedService, *, with_gpu: bool) -> dict[str, Any]:
    """The spec's requests/limits, plus ``gpu.count`` of ``gpu.resourceName`` in both.

    Quantities are emitted as strings, the form the API server returns them in (and the only
    one typed clients accept), so ``cpu: 2`` renders as ``"2"``.
    """
    spec_resources = hs.spec.resources
    limits = {
        k: str(v) for k, v in ((spec_resources.limits or {}) if spec_resources else {}).items()
    }
    requests = {
        k: str(v) for k, v in ((spec_resources.requests or {}) if spec_resources else {}).items()
    }
    if with_gpu and hs.spec.gpu.count > 0:
        # Extended resources cannot be overcommitted: requests must equal limits.
        limits[hs.spec.gpu.resourceName] = str(hs.spec.gpu.count)
        requests[hs.spec.gpu.resourceName] = str(hs.spec.gpu.count)
    result: dict[str, Any] = {}
    if limits:
        result["limits"] = dict(sorted(limits.items()))
    if requests:
        result["requests"] = dict(sorted(requests.items()))
    return result


def _dump_list(items: list[Any] | None) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in items or []]


def _env(hs: HardenedService) -> list[dict[str, Any]]:
    """``env`` with resourceFieldRef divisors as strings (quantities, like ``resources``)."""
    result = _dump_list(hs.spec.env)
    for var in result:
        ref = var.get("valueFrom", {}).get("resourceFieldRef")
        if ref is not None and "divisor" in ref:
            ref["divisor"] = str(ref["divisor"])
    return result


def _debug_affinity(hs: HardenedService) -> dict[str, Any] | None:
    """Prefer the workload's node for the debug pod when it mounts single-node volumes.

    A ReadWriteOnce claim attaches to one node at a time, so a debug pod elsewhere would wait
    for the volume. Only preferred: with the workload scaled to 0 the debug pod may go anywhere.
    A user-given podAffinity is respected as is.
    """
    affinity = hs.spec.affinity.model_dump(exclude_none=True) if hs.spec.affinity else {}
    if "podAffinity" in affinity or not single_node_volumes(hs):
        return affinity or None
    term = {
        "labelSelector": {"matchLabels": selector_labels(hs, COMPONENT_WORKLOAD)},
        "topologyKey": "kubernetes.io/hostname",
    }
    affinity["podAffinity"] = {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": term}
        ]
    }
    return affinity


def single_node_claims(hs: HardenedService) -> list[str]:
    """The enabled volumes that only one node at a time can attach (e.g. ReadWriteOnce)."""
    return [
        name
        for name, spec in hs.spec.volumes.enabled()
        if not _SHAREABLE_MODES & set(spec.accessModes)
    ]


def single_node_volumes(hs: HardenedService) -> bool:
    """Whether an enabled volume can be attached by only one node at a time."""
    return bool(single_node_claims(hs))


def container(hs: HardenedService, *, debug: bool) -> dict[str, Any]:
    """The one container: the service itself, or the debug shell (no ports, no probes, no GPU)."""
    spec = hs.spec
    result: dict[str, Any] = {
        "name": DEBUG_CONTAINER if debug else APP_CONTAINER,
        "image": spec.image,
    }
    if debug:
        result["command"] = list(DEBUG_COMMAND)
    else:
        if spec.command is not None:
            result["command"] = list(spec.command)
        if spec.args is not None:
            result["args"] = list(spec.args)
    if spec.env:
        result["env"] = _env(hs)
    if spec.envFrom:
        result["envFrom"] = _dump_list(spec.envFrom)
    if spec.ports and not debug:
        result["ports"] = _dump_list(spec.ports)
    container_resources = resources(hs, with_gpu=not debug)
    if container_resources:
        result["resources"] = container_resources
    result["securityContext"] = container_security_context(hs)
    result["volumeMounts"] = volume_mounts(hs)
    if not debug:
        for kind in PROBE_KINDS:
            made = probe(hs, kind)
            if made is not None:
                result[f"{kind}Probe"] = made
    return result


def tolerations(hs: HardenedService) -> list[dict[str, Any]]:
    """The spec's tolerations, plus one for the GPU resource's taint when GPUs are asked for."""
    result = _dump_list(hs.spec.tolerations)
    gpu = hs.spec.gpu
    if gpu.count > 0:
        wanted = {"key": gpu.resourceName, "operator": "Exists", "effect": "NoSchedule"}
        if wanted not in result:
            result.append(wanted)
    return result


def node_selector(hs: HardenedService) -> dict[str, str]:
    """``nodeSelector`` merged with ``gpu.nodeSelector`` (the model rejects disagreements)."""
    merged = {**(hs.spec.nodeSelector or {}), **(hs.spec.gpu.nodeSelector or {})}
    return dict(sorted(merged.items()))


def pod_template(
    hs: HardenedService, *, component: str, claim_names: dict[str, str] | None, debug: bool
) -> dict[str, Any]:
    """The hardened pod template {metadata, spec} of the workload or of the debug Deployment."""
    spec = hs.spec
    labels = {**(spec.podLabels or {}), **object_labels(hs, component)}
    metadata: dict[str, Any] = {"labels": dict(sorted(labels.items()))}
    if spec.podAnnotations:
        metadata["annotations"] = dict(sorted(spec.podAnnotations.items()))
    pod: dict[str, Any] = {
        "automountServiceAccountToken": spec.automountServiceAccountToken,
        "securityContext": pod_security_context(hs),
        "containers": [container(hs, debug=debug)],
        "volumes": pod_volumes(hs, claim_names),
        "terminationGracePeriodSeconds": spec.terminationGracePeriodSeconds,
    }
    if spec.serviceAccountName is not None:
        pod["serviceAccountName"] = spec.serviceAccountName
    if spec.imagePullSecrets:
        pod["imagePullSecrets"] = _dump_list(spec.imagePullSecrets)
    selector = node_selector(hs)
    if selector:
        pod["nodeSelector"] = selector
    pod_tolerations = tolerations(hs)
    if pod_tolerations:
        pod["tolerations"] = pod_tolerations
    if debug:
        affinity = _debug_affinity(hs)
    else:
        affinity = spec.affinity.model_dump(exclude_none=True) if spec.affinity else None
    if affinity:
        pod["affinity"] = affinity
    spread = [] if debug else topology_spread(hs)
    if spread:
        pod["topologySpreadConstraints"] = spread
    if spec.gpu.runtimeClassName is not None:
        pod["runtimeClassName"] = spec.gpu.runtimeClassName
    return {"metadata": metadata, "spec": pod}
