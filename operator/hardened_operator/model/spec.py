"""The HardenedService spec: what a user writes (pure: no I/O here).

Field names are part of the API contract (issue 4 §1). Defaults are the seed report's
(``hardened_operator.conventions``); every field's docstring is its ``kubectl explain`` text.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from hardened_operator import conventions
from hardened_operator.model.availability import (
    MAX_REPLICAS,
    AutoscalingSpec,
    DisruptionBudgetSpec,
    NetworkPolicySpec,
    RollingUpdateSpec,
)
from hardened_operator.model.base import (
    NO_WHITESPACE,
    ApiModel,
    cel_rules,
    check_qualified_keys,
)
from hardened_operator.model.env import EnvFromSource, EnvVar, LocalObjectReference
from hardened_operator.model.names import DNS1123_SUBDOMAIN, IANA_SVC_NAME, LABEL_VALUE
from hardened_operator.model.probe import Probe
from hardened_operator.model.resources import ResourceRequirements
from hardened_operator.model.scheduling import Affinity, Toleration
from hardened_operator.model.volumes import (
    DEFAULT_EMPTY_OBJECT,
    VolumesSpec,
)

# Labels the builders own on pods; a podLabels entry may not override them, or the Service
# and the Deployment selector could stop matching (or a pod could lie about its identity).
RESERVED_POD_LABELS: Final = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    *conventions.SECURITY_LABELS,
)

# Annotations the kubelet reads as security settings (AppArmor, legacy seccomp): the builders
# own those, so podAnnotations may not set them (an "unconfined" profile would slip through).
RESERVED_ANNOTATION_PREFIXES: Final = (
    "container.apparmor.security.beta.kubernetes.io/",
    "seccomp.security.alpha.kubernetes.io/",
    "container.seccomp.security.alpha.kubernetes.io/",
)

# Bounds keep the CEL rules' estimated cost inside the API server's CRD budget.
MAX_PORTS: Final = 64
MAX_ENV: Final = 512
MAX_ENV_FROM: Final = 64
# The API server's own bound for UIDs/GIDs; 0 (root) is below our minimum.
MAX_ID: Final = 2147483647

LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]


MAX_GRACE_SECONDS: Final = 3600
"""The largest ``terminationGracePeriodSeconds`` a HardenedService accepts (one hour)."""


class SecurityContextSpec(ApiModel):
    """The identity every container runs as. Root (0) is rejected by the schema itself."""

    runAsUser: int = Field(default=conventions.APP_UID, ge=1, le=MAX_ID)
    """UID of every container's processes (default 1000, the seed's ``ai`` user; 0 is refused)."""
    runAsGroup: int = Field(default=conventions.APP_GID, ge=1, le=MAX_ID)
    """Primary GID of every container's processes (default 1000; 0 is refused)."""
    fsGroup: int = Field(default=conventions.APP_GID, ge=1, le=MAX_ID)
    """GID owning the mounted volumes; ownership is fixed only when a volume's root does not
    already match (fsGroupChangePolicy OnRootMismatch). Default 1000; 0 is refused."""
    readOnlyRootFilesystem: bool = True
    """Mount the image read-only (default true); write to /tmp and /app/<volume> instead."""


class GpuSpec(ApiModel):
    """GPUs for the service (the seed's NVIDIA runtime for GPU services)."""

    count: int = Field(default=0, ge=0, le=64)
    """GPUs per pod (default 0): becomes ``limits[resourceName]`` and a toleration for it."""
    resourceName: str = Field(
        default="nvidia.com/gpu",
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
    )
    """Extended resource name of the GPU (default ``nvidia.com/gpu``)."""
    runtimeClassName: str | None = Field(default=None, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """RuntimeClass of the pod, e.g. ``nvidia`` (the seed's ``runtime: nvidia``)."""
    nodeSelector: dict[str, LabelValue] | None = Field(default=None, max_length=64)
    """Extra node labels GPU pods need, merged into the pod's nodeSelector."""

    _qualified_keys = field_validator("nodeSelector")(check_qualified_keys)


class ContainerPort(ApiModel):
    """A port the container listens on; also exposed by the ClusterIP Service."""

    containerPort: int = Field(ge=1, le=65535)
    """Port number in the container (1-65535); the Service exposes the same number."""
    name: str | None = Field(
        default=None,
        max_length=15,
        pattern=IANA_SVC_NAME,
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.matches('[a-z]') && !self.contains('--')",
                    "message": "a port name needs a letter and no '--' (IANA service name)",
                }
            ]
        },
    )
    """IANA service name (``http``, ``grpc``...); required when there are several ports."""
    protocol: Literal["TCP", "UDP", "SCTP"] = Field(
        default="TCP", json_schema_extra={"maxLength": 4}
    )
    """TCP (default), UDP or SCTP."""

    @field_validator("name")
    @classmethod
    def _iana_name(cls, value: str | None) -> str | None:
        if value is not None and (not any(c.isalpha() for c in value) or "--" in value):
            raise ValueError("a port name needs a letter and no '--' (IANA service name)")
        return value


def _port_rules() -> dict[str, Any]:
    """CEL twins of HardenedServiceSpec._check_ports."""
    return {
        "x-kubernetes-validations": [
            {
                "rule": "self.all(p, self.exists_one(q, q.containerPort == p.containerPort"
                " && q.protocol == p.protocol))",
                "message": "ports must be unique by containerPort and protocol",
            },
            {
                "rule": "self.all(p, !has(p.name) || self.exists_one(q, has(q.name)"
                " && q.name == p.name))",
                "message": "port names must be unique",
            },
            {
                "rule": "size(self) <= 1 || self.all(p, has(p.name))",
                "message": "name every port when there are several (the Service needs names)",
            },
        ]
    }


def _reserved_label_rule() -> dict[str, Any]:
    """CEL twin of HardenedServiceSpec._check_pod_labels (map lookups keep the cost constant)."""
    terms = " && ".join(f"!('{key}' in self)" for key in RESERVED_POD_LABELS)
    return {
        "x-kubernetes-validations": [
            {
                "rule": terms,
                "message": "podLabels may not set the labels the operator owns: "
                + ", ".join(RESERVED_POD_LABELS),
            }
        ]
    }


def _reserved_annotation_rule() -> dict[str, Any]:
    """CEL twin of HardenedServiceSpec._check_pod_annotations."""
    terms = " && ".join(f"!k.startsWith('{prefix}')" for prefix in RESERVED_ANNOTATION_PREFIXES)
    return {
        "x-kubernetes-validations": [
            {
                "rule": f"self.all(k, {terms})",
                "message": "podAnnotations may not set AppArmor or seccomp annotations "
                "(the operator sets the security profile)",
            }
        ]
    }


class Probes(ApiModel):
    """Health checks. Unset probes and unset fields take the seed's HEALTHCHECK values."""

    # The API server's own probe rules (validateProbe), checked here first.
    model_config = cel_rules(
        {
            "rule": "(!has(self.liveness) || !has(self.liveness.successThreshold) || "
            "self.liveness.successThreshold == 1) && (!has(self.startup) || "
            "!has(self.startup.successThreshold) || self.startup.successThreshold == 1)",
            "message": "successThreshold must be 1 for liveness and startup probes",
        },
        {
            "rule": "!has(self.readiness) || !has(self.readiness.terminationGracePeriodSeconds)",
            "message": "terminationGracePeriodSeconds is not allowed on a readiness probe",
        },
    )

    startup: Probe | None = None
    """Gates the other probes until the service is up; default allows 90 s (60 s + 3 retries)."""
    liveness: Probe | None = None
    """Restarts the container when it fails (default every 30 s, timeout 10 s, 3 failures)."""
    readiness: Probe | None = None
    """Removes the pod from the Service while it fails (default as liveness)."""

    @model_validator(mode="after")
    def _kubernetes_rules(self) -> Probes:
        for kind in ("liveness", "startup"):
            given: Probe | None = getattr(self, kind)
            if given is not None and given.successThreshold not in (None, 1):
                raise ValueError(f"{kind}: successThreshold must be 1 for liveness and startup")
        if self.readiness is not None and self.readiness.terminationGracePeriodSeconds is not None:
            raise ValueError("readiness: terminationGracePeriodSeconds is not allowed here")
        return self


class HardenedServiceSpec(ApiModel):
    """A service that runs non-root, keeps its data, gets its GPUs and reports its health."""

    model_config = cel_rules(
        {
            "rule": "!has(self.nodeSelector) || !has(self.gpu.nodeSelector) || "
            "self.gpu.nodeSelector.all(k, !(k in self.nodeSelector) || "
            "self.nodeSelector[k] == self.gpu.nodeSelector[k])",
            "message": "nodeSelector and gpu.nodeSelector disagree on a key",
        },
        {
            "rule": "!has(self.resources) || ["
            "(has(self.resources.limits) && self.gpu.resourceName in self.resources.limits), "
            "(has(self.resources.requests) && self.gpu.resourceName in self.resources.requests)"
            "].all(x, !x)",
            "message": "set GPUs with gpu.count, not in resources",
        },
    )

    image: str = Field(min_length=1, max_length=1024, pattern=NO_WHITESPACE)
    """Container image, e.g. ``registry.example.com/team/model-server:1.4.2``. Required."""
    replicas: int = Field(default=1, ge=0, le=MAX_REPLICAS)
    """Number of pods (default 1); 0 scales the service down and keeps its volumes. With
    ``autoscaling`` the autoscaler writes it (through ``/scale``): leave it out of your manifest."""
    workload: Literal["Deployment", "StatefulSet"] = Field(
        default="Deployment",
        json_schema_extra={
            "maxLength": 11,
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "spec.workload cannot be changed: the data of a Deployment and of "
                    "a StatefulSet live in different claims; create a new HardenedService "
                    "and copy the data over",
                }
            ],
        },
    )
    """Deployment (default): all replicas share the volumes' claims ``<name>-<volume>``.
    StatefulSet: each replica gets its own claims ``<volume>-<name>-<ordinal>`` from
    volumeClaimTemplates, kept across restarts. Cannot be changed after creation."""
    autoscaling: AutoscalingSpec | None = None
    """Make an autoscaling/v2 HorizontalPodAutoscaler that scales this HardenedService between
    ``minReplicas`` and ``maxReplicas`` on CPU and/or memory utilisation."""
    disruptionBudget: DisruptionBudgetSpec = Field(
        default_factory=DisruptionBudgetSpec, json_schema_extra=DEFAULT_EMPTY_OBJECT
    )
    """A PodDisruptionBudget (``maxUnavailable`` 1 by default), made whenever the service can
    have 2 or more replicas (``replicas`` >= 2, or ``autoscaling.maxReplicas`` >= 2)."""
    topologySpread: bool = True
    """Spread the replicas over nodes and over zones where nodes carry
    ``topology.kubernetes.io/zone`` (preferred, never blocking scheduling; default true). Set
    whatever the replica count, so that scaling never changes the pod template."""
    networkPolicy: NetworkPolicySpec | None = None
    """Opt-in ingress NetworkPolicy: only the sources in ``allowFrom``, only to ``ports``."""
    rollingUpdate: RollingUpdateSpec | None = None
    """maxSurge/maxUnavailable of the Deployment's rolling update; applies only when no enabled
    volume is single-node (those force Recreate)."""
    command: list[str] | None = None
    """Overrides the image's ENTRYPOINT."""
    args: list[str] | None = None
    """Overrides the image's CMD."""
    env: list[EnvVar] | None = Field(default=None, max_length=MAX_ENV)
    """Environment variables (core/v1 EnvVar)."""
    envFrom: list[EnvFromSource] | None = Field(default=None, max_length=MAX_ENV_FROM)
    """ConfigMaps and Secrets whose keys become environment variables (core/v1 EnvFromSource)."""
    ports: list[ContainerPort] | None = Field(
        default=None, max_length=MAX_PORTS, json_schema_extra=_port_rules()
    )
    """Ports the container listens on; when present, a ClusterIP Service named like the
    HardenedService exposes them."""
    securityContext: SecurityContextSpec = Field(
        default_factory=SecurityContextSpec, json_schema_extra=DEFAULT_EMPTY_OBJECT
    )
    """The non-root identity of the pod (UID/GID/fsGroup 1000 by default, never 0)."""
    volumes: VolumesSpec = Field(
        default_factory=VolumesSpec, json_schema_extra=DEFAULT_EMPTY_OBJECT
    )
    """Persistent volumes mounted at /app/<volume>; a writable emptyDir at /tmp is always added."""
    volumeReclaimPolicy: Literal["Retain", "Delete"] = "Retain"
    """What happens to the PVCs when the HardenedService is deleted: Retain (default) keeps them
    (no ownerReference, data never lost by accident); Delete garbage-collects them."""
    gpu: GpuSpec = Field(default_factory=GpuSpec, json_schema_extra=DEFAULT_EMPTY_OBJECT)
    """GPUs per pod and how to schedule onto GPU nodes."""
    resources: ResourceRequirements | None = None
    """CPU/memory requests and limits of the container (GPUs come from ``gpu``)."""
    probes: Probes | None = None
    """Startup, liveness and readiness probes; defaults apply to whatever is left unset."""
    serviceAccountName: str | None = Field(default=None, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """ServiceAccount of the pods (default: the namespace's ``default``)."""
    automountServiceAccountToken: bool = False
    """Mount an API token into the pods (default false: most services never call the API)."""
    imagePullSecrets: list[LocalObjectReference] | None = None
    """Secrets holding registry credentials for ``image``."""
    nodeSelector: dict[str, LabelValue] | None = Field(default=None, max_length=64)
    """Node labels the pods must run on (merged with ``gpu.nodeSelector``)."""
    tolerations: list[Toleration] | None = None
    """Taints the pods tolerate (a GPU toleration is added when ``gpu.count`` > 0)."""
    affinity: Affinity | None = None
    """Node and pod (anti-)affinity, passed to the pods unchanged."""
    podLabels: dict[str, LabelValue] | None = Field(
        default=None, max_length=64, json_schema_extra=_reserved_label_rule()
    )
    """Extra labels on the pods (not the ``app.kubernetes.io/*`` or security labels we own)."""
    podAnnotations: dict[str, str] | None = Field(
        default=None, max_length=64, json_schema_extra=_reserved_annotation_rule()
    )
    """Extra annotations on the pods, e.g. for a metrics scraper."""
    terminationGracePeriodSeconds: int = Field(default=30, ge=0, le=MAX_GRACE_SECONDS)
    """Seconds a stopping pod gets between SIGTERM and SIGKILL (default 30)."""
    debug: bool = False
    """Also run ``<name>-debug``: one pod, same identity and volumes, a shell that sleeps, for
    ``kubectl exec`` (the seed's debug profile; non-root too)."""

    _qualified_keys = field_validator("podLabels", "podAnnotations", "nodeSelector")(
        check_qualified_keys
    )

    @field_validator("podLabels")
    @classmethod
    def _check_pod_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        owned = sorted(set(value or {}) & set(RESERVED_POD_LABELS))
        if owned:
            raise ValueError(f"podLabels may not set labels the operator owns: {', '.join(owned)}")
        return value

    @field_validator("podAnnotations")
    @classmethod
    def _check_pod_annotations(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        reserved = sorted(k for k in value or {} if k.startswith(RESERVED_ANNOTATION_PREFIXES))
        if reserved:
            raise ValueError(
                "podAnnotations may not set AppArmor or seccomp annotations (the operator sets "
                f"the security profile): {', '.join(reserved)}"
            )
        return value

    @field_validator("ports")
    @classmethod
    def _check_ports(cls, value: list[ContainerPort] | None) -> list[ContainerPort] | None:
        ports = value or []
        keys = [(p.containerPort, p.protocol) for p in ports]
        if len(set(keys)) != len(keys):
            raise ValueError("ports must be unique by containerPort and protocol")
        names = [p.name for p in ports if p.name is not None]
        if len(set(names)) != len(names):
            raise ValueError("port names must be unique")
        if len(ports) > 1 and len(names) != len(ports):
            raise ValueError("name every port when there are several (the Service needs names)")
        return value

    @model_validator(mode="after")
    def _cross_field_rules(self) -> HardenedServiceSpec:
        both = set(self.nodeSelector or {}) & set(self.gpu.nodeSelector or {})
        mine, gpus = self.nodeSelector or {}, self.gpu.nodeSelector or {}
        clash = sorted(k for k in both if mine[k] != gpus[k])
        if clash:
            raise ValueError(f"nodeSelector and gpu.nodeSelector disagree on {', '.join(clash)}")
        resources = self.resources or ResourceRequirements()
        gpu_name = self.gpu.resourceName
        if gpu_name in (resources.limits or {}) or gpu_name in (resources.requests or {}):
            raise ValueError(f"set GPUs with gpu.count, not as {gpu_name} in resources")
        return self
