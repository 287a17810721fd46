"""Compose service names → Kubernetes object names (the grammars are ``model.names``)."""

from __future__ import annotations

import hashlib
import re

# The object name is reused for the Service (a DNS-1035 label: must start with a letter) and
# as a prefix of "<name>-debug" and "<name>-models", which must stay within 63 characters.
MAX_NAME = 63 - len("-models")


def object_name(raw: str) -> str:
    """A compose service name → a DNS-1035 label usable for every object we derive from it."""
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower())
    name = re.sub(r"-{2,}", "-", name).strip("-")
    if not name or not name[0].isalpha():
        name = f"svc-{name}".rstrip("-")
    if len(name) > MAX_NAME:
        # Keep names distinct when two long names share a prefix.
        digest = hashlib.sha256(raw.encode()).hexdigest()[:6]
        name = f"{name[: MAX_NAME - 7].rstrip('-')}-{digest}"
    return name
