"""Finding RBAC refusals in an operator's log.

An operator watching every namespace also sees the HardenedServices of other tests, whose
namespaces may be terminating when it applies their objects: the API server answers those
with a 403 too ("unable to create new content in namespace ... because it is being
terminated"). That is the namespace lifecycle, not a missing permission, so it is not counted.
"""

from __future__ import annotations

import re

_REFUSED = re.compile(r"\b403\b|[Ff]orbidden")
_TERMINATING = "because it is being terminated"


def rbac_refusals(log: str) -> list[str]:
    """The log lines that report a refused permission."""
    return [line for line in log.splitlines() if _REFUSED.search(line) and _TERMINATING not in line]


def apply_failures(log: str) -> list[str]:
    """Lines where kopf reports a failed apply, but for a namespace being terminated."""
    lines = log.splitlines()
    return [line for line in lines if "failure=APPLY" in line and _TERMINATING not in line]
