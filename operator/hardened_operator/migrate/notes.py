"""What a conversion could not carry over faithfully, per service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
