"""Kubernetes naming rules, checked and enforced without a cluster."""

from __future__ import annotations

import hashlib
import re

# The object name is reused for the Service (a DNS-1035 label: must start with a letter) and
# as a prefix of "<name>-debug" and "<name>-models", which must stay within 63 characters.
MAX_NAME = 63 - len("-models")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


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


def is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.match(name))


def is_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.match(value)))


def is_port_name(name: str) -> bool:
    """IANA_SVC_NAME: at most 15 characters, lowercase alphanumerics and '-', one letter."""
    return (
        len(name) <= 15
        and bool(_PORT_NAME.match(name))
        and "--" not in name
        and any(c.isalpha() for c in name)
    )
