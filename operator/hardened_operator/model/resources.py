"""Container resource requests and limits (core/v1 ResourceRequirements), checked the way the
API server checks a container. Pure: no I/O here."""

from __future__ import annotations

from pydantic import Field, model_validator

from hardened_operator.model.base import (
    ApiModel,
    Quantity,
)
from hardened_operator.model.quantity import parse_quantity

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
