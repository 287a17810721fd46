"""Where pods may run: tolerations and affinity (core/v1), field for field. Pure: no I/O here.

Only the affinity terms keep ``x-kubernetes-preserve-unknown-fields``: the full
NodeAffinity/PodAffinity tree is a few hundred schema lines that we pass through verbatim and
never interpret (the Deployment's own validation checks them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from hardened_operator.model.base import ApiModel, cel_rules
from hardened_operator.model.names import LABEL_VALUE, QUALIFIED_KEY

_PRESERVE: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}


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
