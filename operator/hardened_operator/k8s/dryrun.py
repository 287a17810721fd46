"""Ask the API server whether it would create an object: a server-side dry run (``dryRun=All``).

Admission runs in full - mutating and validating webhooks, ValidatingAdmissionPolicies, Pod
Security Admission, quota - and nothing is stored. The caller needs the same RBAC as a real
create (``create`` on the resource in that namespace). Used by ``hardened verify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson
import urllib3

from hardened_operator.errors import UnauthorizedError
from hardened_operator.k8s.inventory import ClusterUnauthorized, ClusterUnreachable
from hardened_operator.k8s.statuses import error_type
from hardened_operator.probes import Answer, warnings_from

FIELD_MANAGER: Final = "hardened-verify"
REQUEST_TIMEOUT: Final = (10.0, 60.0)  # (connect, read) seconds: admission may call webhooks


def create_pod_dry_run(api: Any, namespace: str, pod: Mapping[str, Any]) -> Answer:
    """POST ``pod`` to ``namespace`` with ``dryRun=All``: admitted (201) or the refusal.

    Raises ``ClusterUnreachable`` (no connection) and ``ClusterUnauthorized`` (401); every
    other answer, 403 and 404 included, is returned for the caller to judge.
    """
    from kubernetes.client.exceptions import ApiException

    server = str(api.configuration.host)
    path = f"/api/v1/namespaces/{namespace}/pods"
    try:
        method, url, headers, body, _ = api.param_serialize(
            "POST",
            path,
            query_params=[("dryRun", "All"), ("fieldManager", FIELD_MANAGER)],
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=dict(pod),
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            method, url, header_params=headers, body=body, _request_timeout=REQUEST_TIMEOUT
        )
        raw = response.read()
    except ApiException as error:  # the client's wrapping of TLS failures (status 0)
        message = f"cannot reach the API server at {server}: {error.reason}"
        raise ClusterUnreachable(message) from error
    except (OSError, urllib3.exceptions.HTTPError) as error:
        cause = getattr(error, "reason", None) or error
        raise ClusterUnreachable(f"cannot reach the API server at {server}: {cause}") from error
    status = int(response.status)
    if error_type(status) is UnauthorizedError:
        raise ClusterUnauthorized(
            f"the API server at {server} did not accept the credentials (401 Unauthorized)",
            status=401,
            reason="Unauthorized",
        )
    warnings = warnings_from(response.headers.getlist("Warning"))
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
