"""Typed reads of kubernetes client models in tests.

The client declares every field Optional, even those the API server always sets on what it
returns (``metadata.name``). ``name_of`` states that expectation as an assertion, so a test
fails loudly on a missing name instead of comparing ``None``.
"""

from __future__ import annotations

from typing import Protocol

from kubernetes.client import V1ObjectMeta


class HasMetadata(Protocol):
    @property
    def metadata(self) -> V1ObjectMeta | None: ...


def name_of(obj: HasMetadata) -> str:
    """``obj.metadata.name`` of an object read from the API server."""
    assert obj.metadata is not None and obj.metadata.name is not None, obj
    return obj.metadata.name
