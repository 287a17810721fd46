"""Environment variables and object references (core/v1 EnvVar, EnvFromSource,
LocalObjectReference), field for field so snippets paste from a Pod spec. Pure: no I/O here."""

from __future__ import annotations

from pydantic import Field, model_validator

from hardened_operator.model.base import (
    ApiModel,
    Quantity,
    at_most_one,
    at_most_one_rule,
    cel_rules,
)
from hardened_operator.model.names import DNS1123_SUBDOMAIN, ENV_VAR_NAME


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
        at_most_one_rule(_SOURCES, "valueFrom"),
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
        at_most_one(self, _SOURCES, "valueFrom")
        if all(getattr(self, name) is None for name in _SOURCES):
            raise ValueError(f"valueFrom: set one of {', '.join(_SOURCES)}")
        return self


class EnvVar(ApiModel):
    """An environment variable of the container (core/v1 EnvVar)."""

    model_config = cel_rules(at_most_one_rule(("value", "valueFrom"), "env"))

    name: str = Field(min_length=1, max_length=256, pattern=ENV_VAR_NAME)
    """Name of the variable (letters, digits, ``_``, ``-``, ``.``; not starting with a digit)."""
    value: str | None = None
    """Literal value; ``$(VAR)`` references to earlier variables are expanded."""
    valueFrom: EnvVarSource | None = None
    """Take the value from a field, resource, ConfigMap or Secret instead."""

    @model_validator(mode="after")
    def _value_or_source(self) -> EnvVar:
        at_most_one(self, ("value", "valueFrom"), f"env {self.name}")
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
        at_most_one_rule(("configMapRef", "secretRef"), "envFrom"),
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
        at_most_one(self, ("configMapRef", "secretRef"), "envFrom")
        if self.configMapRef is None and self.secretRef is None:
            raise ValueError("envFrom: set configMapRef or secretRef")
        return self
