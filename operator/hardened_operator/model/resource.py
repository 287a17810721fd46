"""The HardenedService object as a whole: metadata, spec, status (pure: no I/O here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hardened_operator import API_GROUP, API_VERSION, KIND
from hardened_operator.model.base import ApiModel
from hardened_operator.model.names import DNS1035_LABEL
from hardened_operator.model.spec import HardenedServiceSpec
from hardened_operator.model.status import HardenedServiceStatus

MAX_NAME_LENGTH = 63
"""The name becomes the Service's name (a DNS-1035 label) and label values: 63 characters."""


class ObjectMeta(BaseModel):
    """The metadata fields the builders read; the rest (uid, managedFields...) pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=DNS1035_LABEL)
    namespace: str | None = Field(default=None, max_length=63)
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class HardenedService(ApiModel):
    """A whole HardenedService object, as read from a file or the API."""

    model_config = ConfigDict(frozen=True)

    apiVersion: Literal["ai-system.io/v1alpha1"]
    kind: Literal["HardenedService"]
    metadata: ObjectMeta
    spec: HardenedServiceSpec
    status: HardenedServiceStatus | None = None

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.metadata.name

    @property
    def namespace(self) -> str | None:
        """``metadata.namespace`` (None when rendering a file without one)."""
        return self.metadata.namespace


# The Literals above must follow the package constants.
assert (API_GROUP, API_VERSION, KIND) == ("ai-system.io", "v1alpha1", "HardenedService")
