"""The labels on everything we generate (pure: no I/O here).

Selector labels are derived from ``metadata.name`` (immutable) and a fixed component only,
never from the spec: a Deployment's selector cannot change after creation.
"""

from __future__ import annotations

from typing import Final

from hardened_operator import FIELD_MANAGER, conventions
from hardened_operator.model import HardenedService

PART_OF: Final = "ai-system"
COMPONENT_WORKLOAD: Final = "workload"
COMPONENT_DEBUG: Final = "debug"
COMPONENT_STORAGE: Final = "storage"
VOLUME_LABEL: Final = "ai-system.io/volume"
RUN_AS_USER_LABEL: Final = "ai-system.io/run-as-user"


def selector_labels(hs: HardenedService, component: str) -> dict[str, str]:
    """Labels a Deployment selects its pods by (and the Service selects the workload by)."""
    return {
        "app.kubernetes.io/name": hs.name,
        "app.kubernetes.io/instance": hs.name,
        "app.kubernetes.io/component": component,
    }


def object_labels(hs: HardenedService, component: str) -> dict[str, str]:
    """The standard ``app.kubernetes.io/*`` labels plus the security labels.

    ``ai-system.io/run-as-user`` states the UID the pods actually run as (1000 unless the spec
    says otherwise), so the label never lies.
    """
    labels = {
        **selector_labels(hs, component),
        "app.kubernetes.io/managed-by": FIELD_MANAGER,
        "app.kubernetes.io/part-of": PART_OF,
        **conventions.SECURITY_LABELS,
    }
    labels[RUN_AS_USER_LABEL] = str(hs.spec.securityContext.runAsUser)
    return labels
