"""The seed's four persistent directories under /app, as PVC specs (pure: no I/O here)."""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field, field_validator

from hardened_operator import conventions
from hardened_operator.model.base import QUANTITY_PATTERN, ApiModel
from hardened_operator.model.names import DNS1123_SUBDOMAIN

VOLUME_NAMES: Final = conventions.APP_DIRS
"""The seed's /app directories, in the order objects are generated."""

DEFAULT_EMPTY_OBJECT: dict[str, Any] = {"default": {}}
"""Schema extra for nested objects: the API server fills in their defaults when omitted."""


class VolumeSpec(ApiModel):
    """A persistent volume: a PersistentVolumeClaim ``<name>-<volume>`` at ``/app/<volume>``."""

    enabled: bool = True
    """Create and mount this volume (default true)."""
    size: str = Field(default="1Gi", pattern=QUANTITY_PATTERN)
    """Requested storage, a Kubernetes quantity such as ``10Gi``."""
    storageClassName: str | None = Field(default=None, max_length=253, pattern=DNS1123_SUBDOMAIN)
    """StorageClass of the claim; unset uses the cluster's default class."""
    accessModes: list[
        Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
    ] = Field(
        default=["ReadWriteOnce"],
        min_length=1,
        max_length=4,
        json_schema_extra={
            "x-kubernetes-list-type": "set",
            "x-kubernetes-validations": [
                {
                    "rule": "!('ReadWriteOncePod' in self) || size(self) == 1",
                    "message": "ReadWriteOncePod cannot be combined with other access modes",
                }
            ],
        },
    )
    """Access modes of the claim (default ReadWriteOnce; ReadWriteOncePod only on its own)."""

    @field_validator("accessModes")
    @classmethod
    def _kubernetes_rules(cls, modes: list[str]) -> list[str]:
        if len(set(modes)) != len(modes):
            raise ValueError("access modes must not repeat")
        if "ReadWriteOncePod" in modes and len(modes) > 1:
            raise ValueError("ReadWriteOncePod cannot be combined with other access modes")
        return modes


class LogsVolume(VolumeSpec):
    """``/app/logs``: the service's log files (default 1Gi)."""

    size: str = Field(default="1Gi", pattern=QUANTITY_PATTERN)
    """Requested storage, a Kubernetes quantity (default 1Gi)."""


class DataVolume(VolumeSpec):
    """``/app/data``: application data that must survive restarts (default 10Gi)."""

    size: str = Field(default="10Gi", pattern=QUANTITY_PATTERN)
    """Requested storage, a Kubernetes quantity (default 10Gi)."""


class ModelsVolume(VolumeSpec):
    """``/app/models``: model weights and artefacts (default 50Gi)."""

    size: str = Field(default="50Gi", pattern=QUANTITY_PATTERN)
    """Requested storage, a Kubernetes quantity (default 50Gi)."""


class CacheVolume(VolumeSpec):
    """``/app/cache``: caches that are expensive to rebuild, e.g. downloads (default 10Gi)."""

    size: str = Field(default="10Gi", pattern=QUANTITY_PATTERN)
    """Requested storage, a Kubernetes quantity (default 10Gi)."""


class VolumesSpec(ApiModel):
    """The seed's four persistent directories under /app; each is on unless disabled."""

    logs: LogsVolume = Field(default_factory=LogsVolume, json_schema_extra=DEFAULT_EMPTY_OBJECT)
    """``/app/logs`` (default 1Gi)."""
    data: DataVolume = Field(default_factory=DataVolume, json_schema_extra=DEFAULT_EMPTY_OBJECT)
    """``/app/data`` (default 10Gi)."""
    models: ModelsVolume = Field(
        default_factory=ModelsVolume, json_schema_extra=DEFAULT_EMPTY_OBJECT
    )
    """``/app/models`` (default 50Gi)."""
    cache: CacheVolume = Field(default_factory=CacheVolume, json_schema_extra=DEFAULT_EMPTY_OBJECT)
    """``/app/cache`` (default 10Gi)."""

    def items(self) -> list[tuple[str, VolumeSpec]]:
        """(name, spec) of every volume in generation order, enabled or not."""
        return [(name, getattr(self, name)) for name in VOLUME_NAMES]

    def enabled(self) -> list[tuple[str, VolumeSpec]]:
        """(name, spec) of the volumes to create and mount."""
        return [(name, spec) for name, spec in self.items() if spec.enabled]
