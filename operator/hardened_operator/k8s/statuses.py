"""HTTP status of a failed API call -> the ``errors.ApiError`` subclass, in one place.

Both clients use it: :class:`~.client.KubeClient` (aiohttp, the operator) and
:mod:`.bootstrap` (the kubernetes package's synchronous client, ``hardened dev`` and tests).
Callers catch ``NotFoundError``/``ConflictError`` instead of comparing status codes by hand.
"""

from __future__ import annotations

from hardened_operator.errors import ApiError, ConflictError, NotFoundError, TransientApiError


def api_error(message: str, *, status: int | None, reason: str | None = None) -> ApiError:
    """404 not found, 409 conflict, 429 and 5xx transient (retry), anything else ApiError."""
    kind: type[ApiError] = ApiError
    if status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    elif status is not None and (status == 429 or status >= 500):
        kind = TransientApiError
    return kind(message, status=status, reason=reason)
