"""Ask the API server whether it would create an object: a server-side dry run (``dryRun=All``).

Admission runs in full - mutating and validating webhooks, ValidatingAdmissionPolicies, Pod
Security Admission, quota - and nothing is stored. The caller needs the same RBAC as a real
create (``create`` on the resource in that namespace). Used by ``hardened verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from hardened_operator.k8s.inventory import request
from hardened_operator.probes import Answer, warnings_from

FIELD_MANAGER: Final = "hardened-verify"
REQUEST_TIMEOUT: Final = (10.0, 60.0)  # (connect, read) seconds: admission may call webhooks


def create_pod_dry_run(api: Any, namespace: str, pod: Mapping[str, Any]) -> Answer:
    """POST ``pod`` to ``namespace`` with ``dryRun=All``: admitted (201) or the refusal.

    Raises ``ClusterUnreachable`` (no connection) and ``ClusterUnauthorized`` (401); every
    other answer, 403 and 404 included, is returned for the caller to judge.
    """
    answered = request(
        api,
        "POST",
        f"/api/v1/namespaces/{namespace}/pods",
        [("dryRun", "All"), ("fieldManager", FIELD_MANAGER)],
        body=pod,
        timeout=REQUEST_TIMEOUT,
    )
    status, raw = answered.status, answered.body
    warnings = warnings_from(answered.headers.getlist("Warning"))
    if 200 <= status <= 299:
        return Answer(status, "", warnings)
    return Answer(status, _message(raw), warnings)


def _message(raw: bytes) -> str:
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:2000].decode("utf-8", "replace")
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return message if isinstance(message, str) else str(parsed)[:2000]
