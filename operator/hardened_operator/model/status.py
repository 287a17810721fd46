"""The HardenedService status: what the operator reports (pure: no I/O here).

The operator (``hardened_operator.controller``) computes it from the owned objects; this module
only fixes its shape, so the CRD's status schema and the operator's writes agree.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field

from hardened_operator.model.base import ApiModel

CONDITION_TYPES: Final = ("Ready", "Progressing", "Degraded")


class Condition(ApiModel):
    """One aspect of the service's state (shaped like metav1.Condition)."""

    type: str = Field(min_length=1, max_length=316)
    """Ready (pods available as asked), Progressing (a rollout is under way), Degraded
    (an apply failed or pods cannot start; ``reason`` says why), and SpecWarnings while the
    spec makes legal but risky choices (the admission warnings, in ``message``)."""
    status: Literal["True", "False", "Unknown"]
    """True, False or Unknown."""
    reason: str | None = Field(default=None, max_length=1024)
    """CamelCase machine-readable cause, e.g. ``MinimumReplicasUnavailable``, ``ApplyFailed``."""
    message: str | None = Field(default=None, max_length=32768)
    """Human explanation."""
    lastTransitionTime: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    """When ``status`` last flipped (unchanged while it stays the same)."""
    observedGeneration: int | None = Field(default=None, ge=0)
    """The spec generation this condition was computed from."""


class VolumeStatus(ApiModel):
    """The claim behind one volume."""

    name: str
    """Volume name: logs, data, models or cache."""
    claimName: str
    """PersistentVolumeClaim name, ``<name>-<volume>``."""
    phase: Literal["Pending", "Bound", "Lost", "Missing"]
    """Phase of the claim, or Missing when it does not exist (yet)."""


class HardenedServiceStatus(ApiModel):
    """Observed state, written by the operator through the status subresource."""

    observedGeneration: int | None = Field(default=None, ge=0)
    """The ``metadata.generation`` last reconciled."""
    replicas: int | None = Field(default=None, ge=0)
    """Pods of the Deployment (all revisions); the ``/scale`` subresource reports it."""
    selector: str | None = None
    """Label selector of the workload's pods, for the ``/scale`` subresource (an autoscaler
    finds the pods to measure by it)."""
    readyReplicas: int | None = Field(default=None, ge=0)
    """Pods passing their readiness probe."""
    conditions: list[Condition] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    """Ready, Progressing and Degraded."""
    volumes: list[VolumeStatus] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The phase of each enabled volume's claim."""
    message: str | None = None
    """One human line: what the service is doing or what is wrong."""
