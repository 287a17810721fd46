"""The project's exceptions, in one place, and the exit code each gives on the command line.

Hierarchy, with the exit code of a ``hardened`` command that stops on each::

    HardenedError                 1  base of everything we raise on purpose
    ├── InputError                2  a file, manifest, option or request body we cannot use
    │   ├── ManifestParseError    2  YAML/JSON that does not parse (carries file and line)
    │   ├── SpecValidationError   2  a HardenedService spec breaking the schema (names the field)
    │   └── MalformedFieldError   2  a pod spec field of the wrong type (the policy denies it)
    ├── ConversionError           1  compose/Dockerfile input with no faithful mapping (--strict)
    ├── PolicyError               2  a policy misconfiguration (unknown profile or check id)
    ├── ApiError                  1  the Kubernetes API refused or failed a call
    │   ├── UnauthorizedError     1  401: the API server did not accept the credentials
    │   ├── ForbiddenError        1  403: RBAC, an admission refusal, a terminating namespace
    │   ├── NotFoundError         1  404: the object (or the API of its kind) does not exist
    │   ├── ConflictError         1  409: someone else changed the object; retry from a fresh read
    │   ├── ExpiredError          1  410: a list's continue token or a watch's version expired
    │   ├── InvalidError          1  422: the object breaks the API server's validation
    │   └── TransientApiError     1  5xx, 429, timeouts: retry with backoff
    └── ControlPlaneError         1  the local etcd + kube-apiserver could not be built or started
        └── AssetsNotFoundError   1  no KUBEBUILDER_ASSETS, no cached binaries and no Go toolchain

Exit codes: **2** means "what you gave us is unusable" (the same code click gives a bad option),
**1** means "we understood, and the answer is no or it failed" (findings, a stale file, an
unmappable conversion, a refusal by the cluster). ``hardened_operator.cli._exit.exit_code`` is
the one place that maps an error to its code; ``hardened audit`` (0 clean, 1 findings,
2 unreadable input) and ``hardened dockerfile lint|fix`` (0, 1 findings, 2) follow it.
"""

from __future__ import annotations


class HardenedError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(HardenedError):
    """Input we cannot use: the message says what and where."""


class ManifestParseError(InputError):
    """A manifest that does not parse; ``file`` and ``line`` locate it."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        where = file or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class SpecValidationError(InputError):
    """A HardenedService spec that breaks the schema; ``field`` names the offending path."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class MalformedFieldError(InputError):
    """A pod spec field of the wrong JSON type; ``field`` is its path, ``expected`` the type.

    The policy engine turns this into a denial (fail closed) instead of letting it escape.
    """

    def __init__(self, field: str, expected: str, got: object) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        self.problem = f"must be {expected}, got {_describe(got)}"
        super().__init__(f"{field or 'the pod spec'} {self.problem}")


def _describe(value: object) -> str:
    """A short, safe rendering of a bad value (never a full repr of a huge or deep structure)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    try:
        shown = repr(value)
    except ValueError:  # e.g. an int too long to print (Python's digit limit)
        shown = "<unprintable>"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{type(value).__name__} {shown}"


class ConversionError(HardenedError):
    """Something without a faithful mapping was found and strict mode was asked for."""


class PolicyError(HardenedError):
    """The policy was configured with an unknown profile, check id or mode."""


class ApiError(HardenedError):
    """The Kubernetes API refused or failed a call."""

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None
    ) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class UnauthorizedError(ApiError):
    """HTTP 401: the API server did not accept the credentials."""


class ForbiddenError(ApiError):
    """HTTP 403: RBAC refused, an admission webhook denied, or the namespace is terminating."""


class NotFoundError(ApiError):
    """HTTP 404: the object, or the API serving its kind, does not exist."""


class ConflictError(ApiError):
    """HTTP 409: the object changed under us; re-read and retry."""


class ExpiredError(ApiError):
    """HTTP 410 Gone: a list's continue token or a watch's resourceVersion is too old."""


class InvalidError(ApiError):
    """HTTP 422: the object breaks the API server's validation."""


class TransientApiError(ApiError):
    """5xx, 429 or a timeout: worth retrying with backoff."""


class ControlPlaneError(HardenedError):
    """The local control plane could not be built, started or reached."""


class AssetsNotFoundError(ControlPlaneError):
    """Neither KUBEBUILDER_ASSETS, nor cached binaries, nor a Go toolchain to build them."""
