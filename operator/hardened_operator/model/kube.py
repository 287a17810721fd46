"""Kubernetes core types the spec embeds, typed so the CRD schema stays structural.

Pure: no I/O here. Each mirrors its ``core/v1`` namesake field for field (names are the
Kubernetes ones, so a user can paste a snippet from a Pod spec). Only the affinity terms keep
``x-kubernetes-preserve-unknown-fields``: the full NodeAffinity/PodAffinity tree is a few hundred
schema lines that we pass through verbatim and never interpret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hardened_operator.model.base import (
    DNS1123_SUBDOMAIN,
    ENV_VAR_NAME,
    IANA_SVC_NAME,
    LABEL_VALUE,
    QUALIFIED_KEY,
    ApiModel,
    Quantity,
    cel_rules,
)
from hardened_operator.model.quantity import parse_quantity

PortRef = (
    Annotated[int, Field(ge=1, le=65535)]
    | Annotated[str, Field(pattern=IANA_SVC_NAME, max_length=15)]
)
"""A container port, by number (1-65535) or by name."""

_PRESERVE: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


def _exactly_one(obj: object, fields: tuple[str, ...], what: str) -> None:
    """Raise when more than one of ``fields`` is set (Kubernetes' one-of unions)."""
    present = [name for name in fields if getattr(obj, name) is not None]
    if len(present) > 1:
        raise ValueError(f"{what}: set only one of {', '.join(fields)} (got {', '.join(present)})")


def _one_of_rule(fields: tuple[str, ...], what: str) -> dict[str, str]:
    """The CEL twin of ``_exactly_one`` so the API server enforces the same union.

    Counting with ternaries (not a list ``filter``) keeps the estimated cost small enough for
    the API server's CRD cost budget even inside long lists such as ``env``.
    """
    count = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in fields)
    return {
        "rule": f"{count} <= 1",
        "message": f"{what}: set only one of {', '.join(fields)}",
    }


class LocalObjectReference(ApiModel):
    """A reference to an object in the same namespace, by name."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """Name of the referent (for example an image pull Secret)."""


class ConfigMapKeySelector(ApiModel):
    """Selects a key of a ConfigMap."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """Name of the ConfigMap."""
    key: str = Field(min_length=1)
    """The key to select."""
    optional: bool | None = None
    """Whether the ConfigMap or its key may be missing."""


class SecretKeySelector(ApiModel):
    """Selects a key of a Secret."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """Name of the Secret."""
    key: str = Field(min_length=1)
    """The key to select."""
    optional: bool | None = None
    """Whether the Secret or its key may be missing."""


class ObjectFieldSelector(ApiModel):
    """Selects a field of the pod, e.g. ``metadata.name`` or ``status.podIP``."""

    fieldPath: str = Field(min_length=1)
    """Path of the field to select, in the given API version."""
    apiVersion: str | None = None
    """Version of the schema ``fieldPath`` is written in (default ``v1``)."""


class ResourceFieldSelector(ApiModel):
    """Selects a resource of the container: limits.cpu, requests.memory, ..."""

    resource: str = Field(min_length=1)
    """The resource to select, e.g. ``limits.memory``."""
    containerName: str | None = None
    """Container name (defaults to this container)."""
    divisor: Quantity | None = None
    """Output format of the exposed resource, e.g. ``1Mi``."""


_SOURCES = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


class EnvVarSource(ApiModel):
    """Where an environment variable's value comes from (exactly one source)."""

    model_config = cel_rules(
        _one_of_rule(_SOURCES, "valueFrom"),
        {
            "rule": " || ".join(f"has(self.{name})" for name in _SOURCES),
            "message": f"valueFrom: set one of {', '.join(_SOURCES)}",
        },
    )

    fieldRef: ObjectFieldSelector | None = None
    """A field of the pod: metadata.name, metadata.namespace, status.podIP, ..."""
    resourceFieldRef: ResourceFieldSelector | None = None
    """A resource limit or request of the container."""
    configMapKeyRef: ConfigMapKeySelector | None = None
    """A key of a ConfigMap in the service's namespace."""
    secretKeyRef: SecretKeySelector | None = None
    """A key of a Secret in the service's namespace."""

    @model_validator(mode="after")
    def _one_source(self) -> EnvVarSource:
        _exactly_one(self, _SOURCES, "valueFrom")
        if all(getattr(self, name) is None for name in _SOURCES):
            raise ValueError(f"valueFrom: set one of {', '.join(_SOURCES)}")
        return self


class EnvVar(ApiModel):
    """An environment variable of the container (core/v1 EnvVar)."""

    model_config = cel_rules(_one_of_rule(("value", "valueFrom"), "env"))

    name: str = Field(min_length=1, max_length=256, pattern=ENV_VAR_NAME)
    """Name of the variable (letters, digits, ``_``, ``-``, ``.``; not starting with a digit)."""
    value: str | None = None
    """Literal value; ``$(VAR)`` references to earlier variables are expanded."""
    valueFrom: EnvVarSource | None = None
    """Take the value from a field, resource, ConfigMap or Secret instead."""

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        _exactly_one(self, ("value", "valueFrom"), f"env {self.name}")
        return self


class ConfigMapEnvSource(ApiModel):
    """All keys of a ConfigMap as environment variables."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """Name of the ConfigMap."""
    optional: bool | None = None
    """Whether the ConfigMap may be missing."""


class SecretEnvSource(ApiModel):
    """All keys of a Secret as environment variables."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """Name of the Secret."""
    optional: bool | None = None
    """Whether the Secret may be missing."""


class EnvFromSource(ApiModel):
    """A ConfigMap or Secret whose keys all become environment variables (core/v1)."""

    model_config = cel_rules(
        _one_of_rule(("configMapRef", "secretRef"), "envFrom"),
        {
            "rule": "has(self.configMapRef) || has(self.secretRef)",
            "message": "envFrom: set configMapRef or secretRef",
        },
    )

    prefix: str | None = None
    """Prepended to every key to form the variable name."""
    configMapRef: ConfigMapEnvSource | None = None
    """The ConfigMap to read."""
    secretRef: SecretEnvSource | None = None
    """The Secret to read."""

    @model_validator(mode="after")
    def _one_ref(self) -> EnvFromSource:
        _exactly_one(self, ("configMapRef", "secretRef"), "envFrom")
        if self.configMapRef is None and self.secretRef is None:
            raise ValueError("envFrom: set configMapRef or secretRef")
        return self


class Toleration(ApiModel):
    """Lets the pod schedule onto nodes with a matching taint (core/v1 Toleration)."""

    # The API server's own Toleration rules (validateTolerations), checked here first.
    model_config = cel_rules(
        {
            "rule": "has(self.key) && self.key != '' || "
            "(has(self.operator) && self.operator == 'Exists')",
            "message": "a toleration without a key must use operator Exists",
        },
        {
            "rule": "!has(self.operator) || self.operator != 'Exists' || "
            "!has(self.value) || self.value == ''",
            "message": "a toleration with operator Exists takes no value",
        },
        {
            "rule": "!has(self.tolerationSeconds) || "
            "(has(self.effect) && self.effect == 'NoExecute')",
            "message": "tolerationSeconds needs effect NoExecute",
        },
    )

    key: str | None = Field(
        default=None, max_length=316, pattern=r"^(" + QUALIFIED_KEY[1:-1] + r")?$"
    )
    """Taint key to match; empty with operator Exists matches every taint."""
    operator: Literal["Exists", "Equal"] | None = None
    """``Equal`` (default) compares ``value``; ``Exists`` matches any value."""
    value: str | None = Field(default=None, max_length=63, pattern=LABEL_VALUE)
    """Taint value to match with operator Equal."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches all effects."""
    tolerationSeconds: int | None = None
    """With NoExecute: how long the pod stays bound after the taint appears."""

    @model_validator(mode="after")
    def _kubernetes_rules(self) -> Toleration:
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists")
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists takes no value")
        if self.tolerationSeconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds needs effect NoExecute")
        return self


class ExecAction(ApiModel):
    """Run a command in the container; exit status 0 is healthy."""

    command: list[str] = Field(min_length=1)
    """The command and its arguments (no shell unless you call one)."""


class HttpHeader(ApiModel):
    """A custom HTTP header for an HTTP probe."""

    name: str = Field(min_length=1)
    """Header name."""
    value: str
    """Header value."""


# No ``host`` on HTTP/TCP probes: Pod Security's baseline level (hostProbesAndHostLifecycle)
# forbids it, as it lets the kubelet probe arbitrary addresses; the pod IP is always used.


class HttpGetAction(ApiModel):
    """An HTTP GET against the pod IP; a status code from 200 to 399 is healthy."""

    port: PortRef
    """Port number or name to connect to."""
    path: str | None = None
    """Path to request, e.g. ``/healthz``."""
    scheme: Literal["HTTP", "HTTPS"] | None = None
    """HTTP (default) or HTTPS (certificate not verified)."""
    httpHeaders: list[HttpHeader] | None = None
    """Extra request headers."""


class TcpSocketAction(ApiModel):
    """A TCP connect to the pod IP; an open port is healthy."""

    port: PortRef
    """Port number or name to connect to."""


class GrpcAction(ApiModel):
    """A gRPC health check (grpc.health.v1)."""

    port: int = Field(ge=1, le=65535)
    """Port number of the gRPC service."""
    service: str | None = None
    """Service name placed in the HealthCheckRequest."""


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


class Probe(ApiModel):
    """A Kubernetes probe; unset timings take the seed's defaults, an unset handler ours.

    Default handler: a TCP check of the first TCP port, or (no ports) the seed's exec
    ``python -c "import sys; sys.exit(0)"``.
    """

    model_config = cel_rules(_one_of_rule(_HANDLERS, "probe"))

    exec: ExecAction | None = None
    """Run a command in the container."""
    httpGet: HttpGetAction | None = None
    """HTTP GET against the container."""
    tcpSocket: TcpSocketAction | None = None
    """TCP connect to the container."""
    grpc: GrpcAction | None = None
    """gRPC health check."""
    initialDelaySeconds: int | None = Field(default=None, ge=0)
    """Seconds after start before the first probe (default 0)."""
    periodSeconds: int | None = Field(default=None, ge=1)
    """Seconds between probes (default 30; startup probe 10)."""
    timeoutSeconds: int | None = Field(default=None, ge=1)
    """Seconds before a probe times out (default 10)."""
    successThreshold: int | None = Field(default=None, ge=1)
    """Consecutive successes to count as healthy (must be 1 for liveness and startup)."""
    failureThreshold: int | None = Field(default=None, ge=1)
    """Consecutive failures to count as unhealthy (default 3; startup probe 9)."""
    terminationGracePeriodSeconds: int | None = Field(default=None, ge=1)
    """Grace period when this probe kills the container (liveness and startup only)."""

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        _exactly_one(self, _HANDLERS, "probe")
        return self

    def handler(self) -> dict[str, Any] | None:
        """The user's handler as a Kubernetes fragment, or None to take the default."""
        for name in _HANDLERS:
            value = getattr(self, name)
            if value is not None:
                return {name: value.model_dump(exclude_none=True)}
        return None


_OVERCOMMITTABLE = frozenset({"cpu", "memory", "ephemeral-storage"})


def _check_resource_name(name: str) -> None:
    if name in _OVERCOMMITTABLE or name.startswith("hugepages-"):
        return
    if "/" in name and not name.startswith(("kubernetes.io/", "requests.")):
        return
    raise ValueError(
        f"{name!r} is not a container resource: use cpu, memory, ephemeral-storage, "
        "hugepages-<size> or a domain-qualified extended resource such as example.com/foo"
    )


class ResourceRequirements(ApiModel):
    """CPU, memory and extended-resource requests and limits (core/v1 ResourceRequirements).

    Checked like the API server checks a container: known resource names, requests no larger
    than limits, extended resources (and hugepages) as whole numbers with requests equal to
    limits.
    """

    limits: dict[str, Quantity] | None = Field(default=None, max_length=32)
    """Maximum amounts, e.g. ``{cpu: "2", memory: 8Gi}``. GPU limits come from ``gpu``."""
    requests: dict[str, Quantity] | None = Field(default=None, max_length=32)
    """Amounts reserved for scheduling, e.g. ``{cpu: 500m, memory: 2Gi}``."""

    @model_validator(mode="after")
    def _kubernetes_rules(self) -> ResourceRequirements:
        limits = {k: parse_quantity(v) for k, v in (self.limits or {}).items()}
        requests = {k: parse_quantity(v) for k, v in (self.requests or {}).items()}
        for name, amount in [*limits.items(), *requests.items()]:
            _check_resource_name(name)
            if amount < 0:
                raise ValueError(f"{name}: a quantity cannot be negative")
        for name, amount in requests.items():
            if name in _OVERCOMMITTABLE:
                if name in limits and amount > limits[name]:
                    raise ValueError(f"{name}: requests ({amount}) exceed limits ({limits[name]})")
                continue
            # Extended resources and hugepages cannot be overcommitted.
            if name not in limits:
                raise ValueError(f"{name}: set it in limits (requests alone are not allowed)")
            if amount != limits[name]:
                raise ValueError(f"{name}: requests must equal limits")
        for name, amount in limits.items():
            if "/" in name and amount != amount.to_integral_value():
                raise ValueError(f"{name}: extended resources are whole numbers")
        return self


class Affinity(ApiModel):
    """Scheduling constraints (core/v1 Affinity), passed to the pod unchanged.

    Each term keeps ``x-kubernetes-preserve-unknown-fields``: the full node/pod affinity
    schema is large, we never interpret it, and the Deployment's own validation checks it.
    """

    nodeAffinity: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    """core/v1 NodeAffinity: which nodes the pod may or prefers to run on."""
    podAffinity: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    """core/v1 PodAffinity: co-locate with pods matching a selector."""
    podAntiAffinity: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    """core/v1 PodAntiAffinity: keep away from pods matching a selector."""
