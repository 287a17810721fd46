"""Kubernetes name grammars, written once (pure: no I/O here).

The patterns are the strings the CRD schema carries (``hardened crd`` emits them verbatim), so
they are spelled as the API server's validation spells them; the ``is_*`` predicates are what
code outside pydantic (``hardened convert``, its compose mapping) uses to check a name.
"""

from __future__ import annotations

import re
from typing import Final

# A DNS-1123 label (namespaces): lowercase alphanumerics and '-', at most 63 characters.
DNS1123_LABEL: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Object names (Secrets, ConfigMaps, ServiceAccounts, StorageClasses, RuntimeClasses).
DNS1123_SUBDOMAIN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Service names: a DNS-1123 label that starts with a letter.
DNS1035_LABEL: Final = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# Port names (IANA_SVC_NAME); the length, '--' and one-letter rules are checked in code.
IANA_SVC_NAME: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A label value: empty, or a qualified name.
LABEL_VALUE: Final = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
# Environment variable names as every supported version accepts them (1.30 is the strictest).
ENV_VAR_NAME: Final = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
# A qualified name (the name part of a label key, a non-empty label value).
QUALIFIED_NAME: Final = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
# A label or annotation key: optional DNS-subdomain prefix, then a name.
QUALIFIED_KEY: Final = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)

MAX_LABEL: Final = 63
MAX_SUBDOMAIN: Final = 253
MAX_PORT_NAME: Final = 15

_DNS1123_LABEL: Final = re.compile(DNS1123_LABEL)
_DNS1123_SUBDOMAIN: Final = re.compile(DNS1123_SUBDOMAIN)
_IANA_SVC_NAME: Final = re.compile(IANA_SVC_NAME)
_QUALIFIED_NAME: Final = re.compile(QUALIFIED_NAME)


def is_dns1123_label(name: str) -> bool:
    """A namespace name: ``team-a`` yes; ``Team``, ``-a``, ``a.b``, 64 characters no."""
    return len(name) <= MAX_LABEL and _DNS1123_LABEL.fullmatch(name) is not None


def is_label_key(key: str) -> bool:
    """``[prefix/]name``: prefix a DNS-1123 subdomain (≤ 253), name a qualified name (≤ 63)."""
    prefix, slash, name = key.rpartition("/")
    if slash and (len(prefix) > MAX_SUBDOMAIN or not _DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= MAX_LABEL and bool(_QUALIFIED_NAME.match(name))


def is_label_value(value: str) -> bool:
    """Empty, or a qualified name of at most 63 characters."""
    return value == "" or (len(value) <= MAX_LABEL and bool(_QUALIFIED_NAME.match(value)))


def is_port_name(name: str) -> bool:
    """IANA_SVC_NAME: at most 15 characters, lowercase alphanumerics and '-', one letter."""
    return (
        len(name) <= MAX_PORT_NAME
        and bool(_IANA_SVC_NAME.match(name))
        and "--" not in name
        and any(c.isalpha() for c in name)
    )
