"""Admission warnings for HardenedServices: legal but risky spec choices (issue 12, part 7).

The policy decides allow/deny; this only adds advice to a response that already allows, so
kubectl prints it on ``apply``. The warnings themselves come from the builders
(``builders.spec_warnings``), the same list the operator reports as the ``SpecWarnings``
condition. Advice never changes a decision: a spec that cannot be parsed is the policy's
business (it is refused there), and an unexpected failure here only loses the advice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from hardened_operator import API_GROUP, API_VERSION, KIND
from hardened_operator.builders import warnings_for
from hardened_operator.errors import InputError
from hardened_operator.webhook import responses

log = logging.getLogger(__name__)

PREFIX: Final = "HardenedService spec: "


def spec_warning_lines(obj: Any) -> list[str]:
    """The warning lines for ``obj`` if it is a HardenedService (else none), kubectl-sized."""
    if not isinstance(obj, Mapping) or obj.get("kind") != KIND:
        return []
    if obj.get("apiVersion") != f"{API_GROUP}/{API_VERSION}":
        return []
    try:
        found = warnings_for(obj)
    except InputError:
        return []  # invalid: the policy's review refuses it with the reason
    except Exception:  # advice only: never let it break admission
        log.exception("HardenedService spec warnings failed; admitting without them")
        return []
    return [responses.shorten_warning(PREFIX + line) for line in found[: responses.MAX_WARNINGS]]


def add_spec_warnings(response: dict[str, Any], operation: str, obj: Any) -> None:
    """Append ``obj``'s spec warnings to an allowing AdmissionReview ``response``."""
    body = response.get("response") or {}
    if operation not in ("CREATE", "UPDATE") or not body.get("allowed"):
        return
    lines = spec_warning_lines(obj)
    if lines:
        body["warnings"] = [*(body.get("warnings") or []), *lines]
