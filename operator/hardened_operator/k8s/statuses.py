"""HTTP status of a failed API call -> the ``errors.ApiError`` subclass, in one place.

Every API path uses it: :class:`~.client.KubeClient` (aiohttp, the operator),
:mod:`.bootstrap` (the kubernetes package's synchronous client: ``hardened dev`` and tests)
and :mod:`.inventory` (``hardened audit --cluster``). Callers catch ``NotFoundError``,
``ForbiddenError``, ... or ask the predicates below instead of comparing status codes by hand.
"""

from __future__ import annotations

from typing import Final

from hardened_operator.errors import (
    ApiError,
    ConflictError,
    ExpiredError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    TransientApiError,
    UnauthorizedError,
)

STATUS_ERRORS: Final[dict[int, type[ApiError]]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: ExpiredError,
    422: InvalidError,
    429: TransientApiError,  # too many requests: retry after the server's Retry-After
}


def error_type(status: int | None) -> type[ApiError]:
    """The exception for ``status``: the table above, any 5xx transient, else ``ApiError``."""
    if status is None:
        return ApiError
    if status >= 500:
        return TransientApiError
    return STATUS_ERRORS.get(status, ApiError)


def api_error(message: str, *, status: int | None, reason: str | None = None) -> ApiError:
    """The ``ApiError`` subclass for ``status`` (see :func:`error_type`) carrying ``message``."""
    return error_type(status)(message, status=status, reason=reason)


def namespace_terminating(error: ApiError) -> bool:
    """A namespace being deleted refuses new content with a 403 that is no RBAC problem."""
    return isinstance(error, ForbiddenError) and "being terminated" in str(error)


def denied_by_admission(error: ApiError) -> bool:
    """An admission webhook refused the request (a 403: ``... denied the request: ...``)."""
    return isinstance(error, ForbiddenError) and "denied the request" in str(error)
