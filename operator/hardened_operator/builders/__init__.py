"""HardenedService spec → Kubernetes objects (plain dicts).

Pure: no I/O here, no clock, no randomness. The same input always gives the same output (same
objects, same order, same keys), so a server-side apply of unchanged input is a no-op. No
ownerReferences: the controller adds them (and only to PVCs under ``volumeReclaimPolicy: Delete``).
"""

from __future__ import annotations

from hardened_operator.builders.labels import (
    COMPONENT_DEBUG,
    COMPONENT_STORAGE,
    COMPONENT_WORKLOAD,
    VOLUME_LABEL,
    object_labels,
    selector_labels,
)
from hardened_operator.builders.objects import (
    WORKLOAD_KINDS,
    build_objects,
    claim_name,
    debug_name,
    pod_templates,
)
from hardened_operator.builders.warnings import spec_warnings, warnings_for
from hardened_operator.model.validation import parse  # re-exported: the builders validate first

__all__ = [
    "COMPONENT_DEBUG",
    "COMPONENT_STORAGE",
    "COMPONENT_WORKLOAD",
    "VOLUME_LABEL",
    "WORKLOAD_KINDS",
    "build_objects",
    "claim_name",
    "debug_name",
    "object_labels",
    "parse",
    "pod_templates",
    "selector_labels",
    "spec_warnings",
    "warnings_for",
]
