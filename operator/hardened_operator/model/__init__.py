"""The HardenedService API as typed models: the CRD's one source of truth.

Pure: no I/O here. ``crd_manifest()`` derives the CustomResourceDefinition from these models,
so a field, default, bound or description is written exactly once.
"""

from __future__ import annotations

from hardened_operator.model.crd import crd_manifest, crd_yaml, structural_schema
from hardened_operator.model.resource import HardenedService, ObjectMeta
from hardened_operator.model.spec import (
    ContainerPort,
    GpuSpec,
    HardenedServiceSpec,
    Probes,
    SecurityContextSpec,
)
from hardened_operator.model.status import Condition, HardenedServiceStatus, VolumeStatus
from hardened_operator.model.volumes import VOLUME_NAMES, VolumeSpec, VolumesSpec

__all__ = [
    "VOLUME_NAMES",
    "Condition",
    "ContainerPort",
    "GpuSpec",
    "HardenedService",
    "HardenedServiceSpec",
    "HardenedServiceStatus",
    "ObjectMeta",
    "Probes",
    "SecurityContextSpec",
    "VolumeSpec",
    "VolumeStatus",
    "VolumesSpec",
    "crd_manifest",
    "crd_yaml",
    "structural_schema",
]
