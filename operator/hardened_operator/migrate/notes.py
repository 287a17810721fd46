"""What a conversion could not carry over faithfully, per service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

NoteKind = Literal["warning", "unmappable"]


@dataclass(frozen=True)
class Note:
    """One message for stderr.

    ``warning``: mapped, but the meaning changed (root user → 1000, ``count: all`` → 1, ...).
    ``unmappable``: dropped because HardenedService has no faithful equivalent; ``--strict``
    turns these into an error.
    """

    service: str
    key: str
    message: str
    kind: NoteKind = "unmappable"

    def describe(self) -> str:
        return f"{self.service}: {self.kind}: {self.key}: {self.message}"


def show(value: Any) -> str:
    """A value as the compose file would spell it (YAML flow style), not as a Python repr:
    ``{db: {condition: service_started}}``, ``true``, ``[ai_network]``."""
    if isinstance(value, str):
        return value
    try:
        text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000, sort_keys=False)
    except yaml.YAMLError:
        return str(value)
    text = text.strip()
    return text[: -len("...")].strip() if text.endswith("\n...") or text.endswith("...") else text
