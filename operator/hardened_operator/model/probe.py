"""Health probes (core/v1 Probe and its handlers), field for field. Pure: no I/O here."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from hardened_operator.model.base import (
    ApiModel,
    at_most_one,
    at_most_one_rule,
    cel_rules,
)
from hardened_operator.model.names import IANA_SVC_NAME

PortRef = (
    Annotated[int, Field(ge=1, le=65535)]
    | Annotated[str, Field(pattern=IANA_SVC_NAME, max_length=15)]
)
"""A container port, by number (1-65535) or by name."""


class ExecAction(ApiModel):
    """Run a command in the container; exit status 0 is healthy."""

    command: list[str] = Field(min_length=1)
    """The command and its arguments (no shell unless you call one)."""


class HttpHeader(ApiModel):
    """A custom HTTP header for an HTTP probe."""

    name: str = Field(min_length=1)
    """Header name."""
    value: str
    """Header value."""


# No ``host`` on HTTP/TCP probes: Pod Security's baseline level (hostProbesAndHostLifecycle)
# forbids it, as it lets the kubelet probe arbitrary addresses; the pod IP is always used.


class HttpGetAction(ApiModel):
    """An HTTP GET against the pod IP; a status code from 200 to 399 is healthy."""

    port: PortRef
    """Port number or name to connect to."""
    path: str | None = None
    """Path to request, e.g. ``/healthz``."""
    scheme: Literal["HTTP", "HTTPS"] | None = None
    """HTTP (default) or HTTPS (certificate not verified)."""
    httpHeaders: list[HttpHeader] | None = None
    """Extra request headers."""


class TcpSocketAction(ApiModel):
    """A TCP connect to the pod IP; an open port is healthy."""

    port: PortRef
    """Port number or name to connect to."""


class GrpcAction(ApiModel):
    """A gRPC health check (grpc.health.v1)."""

    port: int = Field(ge=1, le=65535)
    """Port number of the gRPC service."""
    service: str | None = None
    """Service name placed in the HealthCheckRequest."""


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


class Probe(ApiModel):
    """A Kubernetes probe; unset timings take the seed's defaults, an unset handler ours.

    Default handler: a TCP check of the first TCP port. Without a TCP port there is no
    default (an exec command exists only in some images): a probe without a handler is then
    left out, and the admission warnings say so.
    """

    model_config = cel_rules(at_most_one_rule(_HANDLERS, "probe"))

    exec: ExecAction | None = None
    """Run a command in the container."""
    httpGet: HttpGetAction | None = None
    """HTTP GET against the container."""
    tcpSocket: TcpSocketAction | None = None
    """TCP connect to the container."""
    grpc: GrpcAction | None = None
    """gRPC health check."""
    initialDelaySeconds: int | None = Field(default=None, ge=0)
    """Seconds after start before the first probe (default 0)."""
    periodSeconds: int | None = Field(default=None, ge=1)
    """Seconds between probes (default 30; startup probe 10)."""
    timeoutSeconds: int | None = Field(default=None, ge=1)
    """Seconds before a probe times out (default 10)."""
    successThreshold: int | None = Field(default=None, ge=1)
    """Consecutive successes to count as healthy (must be 1 for liveness and startup)."""
    failureThreshold: int | None = Field(default=None, ge=1)
    """Consecutive failures to count as unhealthy (default 3; startup probe 9)."""
    terminationGracePeriodSeconds: int | None = Field(default=None, ge=1)
    """Grace period when this probe kills the container (liveness and startup only)."""

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        at_most_one(self, _HANDLERS, "probe")
        return self

    def handler(self) -> dict[str, Any] | None:
        """The user's handler as a Kubernetes fragment, or None to take the default."""
        for name in _HANDLERS:
            value = getattr(self, name)
            if value is not None:
                return {name: value.model_dump(exclude_none=True)}
        return None
