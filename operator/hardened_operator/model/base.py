"""The base every API model shares (pure: no I/O here)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hardened_operator.model.names import QUALIFIED_KEY


class ApiModel(BaseModel):
    """Strict by default: unknown fields are errors, descriptions come from field docstrings."""

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=False,
        frozen=True,
    )


# Kubernetes' resource.Quantity grammar (k8s.io/apimachinery/pkg/api/resource), as the API server
# and controller-gen spell it, so the schema and pydantic accept exactly the same strings.
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
    r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
Quantity = int | Annotated[str, Field(pattern=QUANTITY_PATTERN)]
"""A Kubernetes quantity: an integer or a string such as ``500m``, ``2Gi``."""

NO_WHITESPACE = r"^\S+$"


def check_qualified_keys(value: dict[str, str] | None) -> dict[str, str] | None:
    """Label/annotation/selector keys: ``[prefix/]name``, prefix ≤ 253, name ≤ 63 characters."""
    for key in value or {}:
        prefix, _, name = key.rpartition("/")
        if len(prefix) > 253 or len(name) > 63 or not re.match(QUALIFIED_KEY, key):
            raise ValueError(f"{key!r} is not a valid label or annotation key")
    return value


def cel_rules(*rules: dict[str, str]) -> ConfigDict:
    """Model config adding CEL ``x-kubernetes-validations`` to the model's CRD schema.

    pydantic merges this with ``ApiModel.model_config``; the model's own validators must
    enforce the same rule so that ``hardened render`` and the API server agree.
    """
    return ConfigDict(json_schema_extra={"x-kubernetes-validations": [dict(r) for r in rules]})


def at_most_one(obj: object, fields: tuple[str, ...], what: str) -> None:
    """Raise when more than one of ``fields`` is set (Kubernetes' one-of unions)."""
    present = [name for name in fields if getattr(obj, name) is not None]
    if len(present) > 1:
        raise ValueError(f"{what}: set only one of {', '.join(fields)} (got {', '.join(present)})")


def at_most_one_rule(fields: tuple[str, ...], what: str) -> dict[str, str]:
    """The CEL twin of ``at_most_one`` so the API server enforces the same union.

    Counting with ternaries (not a list ``filter``) keeps the estimated cost small enough for
    the API server's CRD cost budget even inside long lists such as ``env``.
    """
    count = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in fields)
    return {
        "rule": f"{count} <= 1",
        "message": f"{what}: set only one of {', '.join(fields)}",
    }
