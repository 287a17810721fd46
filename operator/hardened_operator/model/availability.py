"""Scaling, availability, ingress: autoscaling, disruption budget, rollout pace, network policy
(pure: no I/O here).

The operator turns these into an ``autoscaling/v2`` HorizontalPodAutoscaler, a ``policy/v1``
PodDisruptionBudget, topology spread constraints, the Deployment's ``rollingUpdate`` and a
``networking.k8s.io/v1`` NetworkPolicy
(``hardened_operator.builders``); docs/hardenedservice.md says when each one is made.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, field_validator, model_validator

from hardened_operator.model.base import ApiModel, cel_rules, check_qualified_keys
from hardened_operator.model.names import LABEL_VALUE

MAX_REPLICAS: Final = 1000
"""The most replicas a HardenedService (or its autoscaler) may ask for."""

PERCENT: Final = r"^(100|[1-9]?[0-9])%$"

IntOrPercent = (
    Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
    | Annotated[str, Field(pattern=PERCENT, max_length=4)]
)
"""A number of pods or a percentage of the replicas, e.g. ``1`` or ``25%``."""


def is_zero(value: int | str | None) -> bool:
    """``0`` or ``0%``: no pods at all."""
    return value in (0, "0%")


class AutoscalingSpec(ApiModel):
    """A HorizontalPodAutoscaler that scales this HardenedService through its ``/scale``
    subresource (it writes ``spec.replicas``; the operator passes that on to the Deployment)."""

    model_config = cel_rules(
        {
            "rule": "self.minReplicas <= self.maxReplicas",
            "message": "autoscaling.minReplicas must not exceed autoscaling.maxReplicas",
        },
        {
            "rule": "has(self.targetCPUUtilizationPercentage) || "
            "has(self.targetMemoryUtilizationPercentage)",
            "message": "autoscaling needs targetCPUUtilizationPercentage or "
            "targetMemoryUtilizationPercentage",
        },
    )

    minReplicas: int = Field(default=1, ge=1, le=MAX_REPLICAS)
    """Fewest pods the autoscaler keeps (default 1)."""
    maxReplicas: int = Field(ge=1, le=MAX_REPLICAS)
    """Most pods the autoscaler may start. Required."""
    targetCPUUtilizationPercentage: int | None = Field(default=None, ge=1, le=1000)
    """Average CPU use to aim for, in percent of ``resources.requests.cpu`` (set that too)."""
    targetMemoryUtilizationPercentage: int | None = Field(default=None, ge=1, le=1000)
    """Average memory use to aim for, in percent of ``resources.requests.memory``."""

    @model_validator(mode="after")
    def _consistent(self) -> AutoscalingSpec:
        if self.minReplicas > self.maxReplicas:
            raise ValueError("autoscaling.minReplicas must not exceed autoscaling.maxReplicas")
        if (
            self.targetCPUUtilizationPercentage is None
            and self.targetMemoryUtilizationPercentage is None
        ):
            raise ValueError(
                "autoscaling needs targetCPUUtilizationPercentage or "
                "targetMemoryUtilizationPercentage"
            )
        return self


class DisruptionBudgetSpec(ApiModel):
    """The PodDisruptionBudget made when the service can have 2 or more replicas."""

    model_config = cel_rules(
        {
            "rule": "!has(self.maxUnavailable) || !(string(self.maxUnavailable) in ['0', '0%'])",
            "message": "disruptionBudget.maxUnavailable of 0 would block every node drain",
        }
    )

    enabled: bool = True
    """Make the budget (default true); false opts out."""
    maxUnavailable: IntOrPercent = 1
    """Pods a voluntary disruption (a drain, an eviction) may take down at once (default 1;
    a number or a percentage such as ``25%``; 0 would block every drain and is refused)."""

    @model_validator(mode="after")
    def _not_zero(self) -> DisruptionBudgetSpec:
        if is_zero(self.maxUnavailable):
            raise ValueError("disruptionBudget.maxUnavailable of 0 would block every node drain")
        return self


class RollingUpdateSpec(ApiModel):
    """Pace of a rolling update (only when the volumes allow one; see docs/hardenedservice.md)."""

    model_config = cel_rules(
        {
            "rule": "!(has(self.maxSurge) && has(self.maxUnavailable) && "
            "string(self.maxSurge) in ['0', '0%'] && string(self.maxUnavailable) in ['0', '0%'])",
            "message": "rollingUpdate: maxSurge and maxUnavailable cannot both be 0",
        }
    )

    maxSurge: IntOrPercent | None = None
    """Extra pods started above ``replicas`` during an update (Kubernetes' default 25%)."""
    maxUnavailable: IntOrPercent | None = None
    """Pods that may be unavailable during an update (Kubernetes' default 25%)."""

    @model_validator(mode="after")
    def _progress(self) -> RollingUpdateSpec:
        if is_zero(self.maxSurge) and is_zero(self.maxUnavailable):
            raise ValueError("rollingUpdate: maxSurge and maxUnavailable cannot both be 0")
        return self


class LabelSelector(ApiModel):
    """Labels an object must carry, all of them (a Kubernetes ``matchLabels`` selector)."""

    model_config = cel_rules(
        {
            "rule": "size(self.matchLabels) >= 1",
            "message": "matchLabels needs a label (an empty selector selects everything)",
        }
    )

    matchLabels: dict[str, Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]] = Field(
        max_length=64
    )
    """Label keys and values, e.g. ``{app.kubernetes.io/name: frontend}``."""

    _qualified_keys = field_validator("matchLabels")(check_qualified_keys)

    @field_validator("matchLabels")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("matchLabels needs a label (an empty selector selects everything)")
        return value


class NetworkPeer(ApiModel):
    """Who may connect: pods by label, in this namespace or in the namespaces selected."""

    model_config = cel_rules(
        {
            "rule": "has(self.podSelector) || has(self.namespaceSelector)",
            "message": "a networkPolicy.allowFrom entry needs podSelector or namespaceSelector",
        }
    )

    podSelector: LabelSelector | None = None
    """Pods allowed to connect (in this namespace, or in ``namespaceSelector``'s namespaces)."""
    namespaceSelector: LabelSelector | None = None
    """Namespaces whose pods may connect (all their pods, unless ``podSelector`` narrows it);
    ``kubernetes.io/metadata.name`` selects a namespace by name."""

    @model_validator(mode="after")
    def _some_selector(self) -> NetworkPeer:
        if self.podSelector is None and self.namespaceSelector is None:
            raise ValueError(
                "a networkPolicy.allowFrom entry needs podSelector or namespaceSelector"
            )
        return self


class NetworkPolicySpec(ApiModel):
    """An ingress NetworkPolicy for the workload's pods (opt-in: made when this is set)."""

    allowFrom: list[NetworkPeer] = Field(default_factory=list, max_length=32)
    """Sources allowed to reach the declared ``ports`` (each entry: pods and/or namespaces by
    label). Empty: no ingress at all. Everything else is refused (what the CNI enforces)."""
