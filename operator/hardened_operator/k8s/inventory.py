"""Read every pod-bearing object of a cluster, page by page (synchronous; read-only).

What is read: every object of every kind of ``workloads.POD_BEARING`` (the kinds the
admission webhook reviews), owners first (``workloads.OWNERS_FIRST``): an object's controlling
owner, if it could be read, comes before it, so a reader judging them in this order knows what
the owner found when it judges the object (``workloads.judged_as``, the rule the reports and
the offline audit follow too: what an object shares with its owner is the owner's; an owner
that could not be read -- RBAC forbids Deployments -- vouches for nothing).

Lists are paginated (``limit``/``continue``, 500 per page as kubectl does), so memory follows
one page, not the cluster. Nothing is dropped silently: every list that could not be read is
yielded as an :class:`Unread` (RBAC 403, an expired continue token, a server error), and a kind
the server does not serve (the HardenedService CRD not installed) as a :class:`NotServed`.
A list forbidden cluster-wide is tried namespace by namespace, so a user allowed into some
namespaces gets those, and the others are named as :class:`Unread`.

API, for any read-only consumer (``hardened audit --cluster``, reports)::

    cluster = connect(kubeconfig=None, context=None)       # kubectl's resolution order
    scope = read_namespaces(cluster.api, namespace=None)   # None: all namespaces
    for item in read_pod_bearing(cluster.api, scope):
        ...  # Listed (object, API path), Unread or NotServed

:class:`ClusterUnreachable` (no connection, TLS failure) and :class:`ClusterUnauthorized`
(401: the credentials were refused) end the whole read: nothing partial can be trusted then.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import urllib3

from hardened_operator.errors import (
    ApiError,
    ExpiredError,
    ForbiddenError,
    InputError,
    NotFoundError,
    UnauthorizedError,
)
from hardened_operator.k8s.statuses import error_type
from hardened_operator.workloads import OWNERS_FIRST, PodBearingKind

PAGE_SIZE: Final = 500  # kubectl's chunk size
REQUEST_TIMEOUT: Final = (10.0, 120.0)  # (connect, read) seconds: a page of 500 Pods is ~1 MB
IN_CLUSTER_NAMESPACE_FILE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class ClusterUnreachable(ApiError):
    """No answer from the API server (refused, DNS, timeout, TLS): nothing could be read."""


class ClusterUnauthorized(UnauthorizedError):
    """HTTP 401: the API server did not accept the credentials."""


@dataclass(frozen=True)
class Cluster:
    """A connection and the namespace kubectl would use for it."""

    api: Any  # kubernetes.client.ApiClient
    server: str
    context_namespace: str  # the context's namespace, else "default" (kubectl's rule)


@dataclass(frozen=True)
class Listed:
    """One object as the API server returned it, ``apiVersion`` and ``kind`` set on it (as
    ``kubectl get -o yaml`` prints list items); ``path`` is its API path."""

    kind: PodBearingKind
    obj: dict[str, Any]
    path: str


@dataclass(frozen=True)
class Unread:
    """A list that could not be read: its objects are not in the result (a partial result).

    ``namespace`` None means cluster-wide (every namespace's objects of ``resource``)."""

    resource: str  # "deployments.apps", "pods", "namespaces"
    kind: str
    namespace: str | None
    path: str
    status: int | None
    message: str


@dataclass(frozen=True)
class NotServed:
    """The API server does not serve this kind (404 on its list): there are none to read."""

    kind: PodBearingKind
    message: str


@dataclass(frozen=True)
class Scope:
    """Which namespaces to read and their labels, from :func:`read_namespaces`.

    ``namespace`` None: all namespaces. ``labels`` maps each namespace read to its labels;
    ``unread`` says why some could not be (then ``labels`` may be incomplete)."""

    namespace: str | None
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    unread: Unread | None = None


def resource_name(kind: PodBearingKind) -> str:
    """``deployments.apps``; ``pods`` for the core group (kubectl's spelling)."""
    return f"{kind.resource}.{kind.group}" if kind.group else kind.resource


def list_path(kind: PodBearingKind, namespace: str | None) -> str:
    """The API path listing ``kind`` in ``namespace`` (None: in every namespace)."""
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    if namespace is None:
        return f"{base}/{kind.resource}"
    return f"{base}/namespaces/{namespace}/{kind.resource}"


def api_version(kind: PodBearingKind) -> str:
    return f"{kind.group}/{kind.version}" if kind.group else kind.version


# ------------------------------------------------------------------------------- connecting


def connect(kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    """Connect like the operator (``k8s.client.load_configuration``): ``kubeconfig``, else
    ``$KUBECONFIG``, else in-cluster, else ``~/.kube/config`` (kubectl tries ~/.kube/config
    before in-cluster); ``context`` always means a kubeconfig entry, never the in-cluster
    account. Raises ``InputError`` for a kubeconfig that cannot be used (missing file, unknown
    context)."""
    from kubernetes import client as kclient
    from kubernetes.config import ConfigException

    from hardened_operator.k8s.client import load_configuration

    try:
        configuration = load_configuration(kubeconfig, context)
    except (ConfigException, OSError, ValueError, TypeError) as error:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise InputError(f"cannot use kubeconfig {where}: {error}") from error
    api = kclient.ApiClient(configuration)
    return Cluster(api, str(configuration.host), _context_namespace(kubeconfig, context))


def _context_namespace(kubeconfig: str | None, context: str | None) -> str:
    from kubernetes import config as kconfig

    path = kubeconfig or os.environ.get("KUBECONFIG")
    if not path and context is None and os.path.exists(IN_CLUSTER_NAMESPACE_FILE):
        with open(IN_CLUSTER_NAMESPACE_FILE, encoding="utf-8") as handle:
            return handle.read().strip() or "default"
    try:
        lister: Any = kconfig.list_kube_config_contexts  # untyped in the client
        contexts, active = lister(config_file=path)
    except (kconfig.ConfigException, OSError, ValueError, TypeError):
        return "default"
    chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
    settings = (chosen or {}).get("context") or {}
    namespace = settings.get("namespace")
    return namespace if isinstance(namespace, str) and namespace else "default"


# ------------------------------------------------------------------------------- requests


class _Refused(Exception):
    """A request answered with an HTTP error status (not 401: that ends the read)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type(status)  # what the status means (k8s/statuses.py)


@dataclass(frozen=True)
class Answered:
    """An HTTP answer of the API server, whatever its status (not 401: that is raised)."""

    status: int
    body: bytes
    headers: Any  # urllib3's HTTPHeaderDict (``getlist`` for repeated headers)


def request(
    api: Any,
    method: str,
    path: str,
    query: Sequence[tuple[str, Any]] = (),
    *,
    body: Mapping[str, Any] | None = None,
    timeout: tuple[float, float] = REQUEST_TIMEOUT,
) -> Answered:
    """One request, answered: raises only ``ClusterUnreachable`` (no connection, TLS) and
    ``ClusterUnauthorized`` (401); every other status is the caller's to judge."""
    from kubernetes.client.exceptions import ApiException

    server = str(api.configuration.host)
    header_params = {"Accept": "application/json"}
    if body is not None:
        header_params["Content-Type"] = "application/json"
    try:
        method, url, headers, serialized, _ = api.param_serialize(
            method,
            path,
            query_params=list(query) or None,
            header_params=header_params,
            body=dict(body) if body is not None else None,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(
            method, url, header_params=headers, body=serialized, _request_timeout=timeout
        )
        raw = response.read()
    except ApiException as error:  # the client's wrapping of TLS failures (status 0)
        raise ClusterUnreachable(
            f"cannot reach the API server at {server}: {_one_line(error.reason)}"
        ) from error
    except (OSError, urllib3.exceptions.HTTPError) as error:
        raise ClusterUnreachable(
            f"cannot reach the API server at {server}: {_reason(error)}"
        ) from error
    status = int(response.status)
    if error_type(status) is UnauthorizedError:
        raise ClusterUnauthorized(
            f"the API server at {server} did not accept the credentials (401 Unauthorized)",
            status=401,
            reason="Unauthorized",
        )
    return Answered(status, raw, response.headers)


def _get(api: Any, path: str, query: Sequence[tuple[str, Any]] = ()) -> dict[str, Any]:
    """GET ``path`` as parsed JSON; raises ``_Refused``, ``ClusterUnreachable`` or
    ``ClusterUnauthorized``."""
    answered = request(api, "GET", path, query)
    status, body = answered.status, answered.body
    if not 200 <= status <= 299:
        raise _Refused(status, _status_message(status, body))
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise _Refused(status, f"the answer is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise _Refused(status, "the answer is not a JSON object")
    return parsed


def _reason(error: BaseException) -> str:
    inner = getattr(error, "reason", None)  # urllib3's MaxRetryError wraps the real cause
    return _one_line(inner if inner is not None else error)


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _status_message(status: int, body: bytes) -> str:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"HTTP {status}: {_one_line(body[:300].decode('utf-8', 'replace'))}"
    message = parsed.get("message") if isinstance(parsed, dict) else None
    return f"HTTP {status}: {_one_line(message if message else parsed)}"


def _pages(api: Any, path: str, page_size: int) -> Iterator[list[Any]]:
    """The ``items`` of each page of the list at ``path`` (raises like ``_get``)."""
    token: str | None = None
    while True:
        query: list[tuple[str, Any]] = [("limit", page_size)]
        if token:
            query.append(("continue", token))
        page = _get(api, path, query)
        items = page.get("items")
        if items is not None and not isinstance(items, list):
            raise _Refused(200, f"{path}: items is not a list")
        yield items or []
        metadata = page.get("metadata")
        token = metadata.get("continue") if isinstance(metadata, Mapping) else None
        if not token:
            return


# ------------------------------------------------------------------------------- namespaces


def read_namespaces(api: Any, namespace: str | None) -> Scope:
    """The namespaces in scope and their labels: ``namespace`` alone, or all (None).

    A namespace named but absent raises ``InputError`` (a typo must not pass as "clean");
    one that cannot be read (RBAC) is recorded in ``Scope.unread``."""
    if namespace is not None:
        path = f"/api/v1/namespaces/{namespace}"
        try:
            found = _get(api, path)
        except _Refused as refused:
            if refused.error_type is NotFoundError:
                raise InputError(f"namespace {namespace!r} does not exist") from None
            unread = Unread("namespaces", "Namespace", namespace, path, refused.status,
                            refused.message)  # fmt: skip
            return Scope(namespace, {}, unread)
        return Scope(namespace, {namespace: _labels(found)})
    path = "/api/v1/namespaces"
    labels: dict[str, dict[str, str]] = {}
    try:
        for items in _pages(api, path, PAGE_SIZE):
            for item in items:
                name = _name(item)
                if name is not None:
                    labels[name] = _labels(item)
    except _Refused as refused:
        return Scope(None, labels, Unread("namespaces", "Namespace", None, path,
                                          refused.status, refused.message))  # fmt: skip
    return Scope(None, labels)


def _name(obj: Any) -> str | None:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return name if isinstance(name, str) else None


def _labels(obj: Any) -> dict[str, str]:
    metadata = obj.get("metadata") if isinstance(obj, Mapping) else None
    labels = metadata.get("labels") if isinstance(metadata, Mapping) else None
    if not isinstance(labels, Mapping):
        return {}
    return {str(k): str(v) for k, v in labels.items()}


# ------------------------------------------------------------------------------- objects


def _object_path(kind: PodBearingKind, obj: Mapping[str, Any], fallback: str) -> str:
    metadata = obj.get("metadata")
    namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
    name = _name(obj)
    if not isinstance(namespace, str) or name is None:
        return fallback
    return f"{list_path(kind, namespace)}/{name}"


def _read_list(
    api: Any, kind: PodBearingKind, namespace: str | None, page_size: int
) -> Iterator[Listed]:
    """Every object of one list, ``apiVersion``/``kind`` first (raises like ``_get``)."""
    path = list_path(kind, namespace)
    version = api_version(kind)
    for items in _pages(api, path, page_size):
        for item in items:
            if not isinstance(item, dict):
                raise _Refused(200, f"{path}: an item is not an object")
            obj = {"apiVersion": version, "kind": kind.kind, **item}
            yield Listed(kind, obj, _object_path(kind, obj, path))


def _unread(kind: PodBearingKind, namespace: str | None, refused: _Refused) -> Unread:
    message = refused.message
    if refused.error_type is ExpiredError:  # the continue token expired between two pages
        message += " (the list changed too much while it was read; run the audit again)"
    return Unread(resource_name(kind), kind.kind, namespace, list_path(kind, namespace),
                  refused.status, message)  # fmt: skip


def read_pod_bearing(
    api: Any, scope: Scope, *, page_size: int = PAGE_SIZE
) -> Iterator[Listed | Unread | NotServed]:
    """Every pod-bearing object in ``scope`` (see the module's docstring for what is read).

    Kinds are read owners first (``OWNERS_FIRST``), so an object's controlling owner, if it
    could be read, was yielded before it. An ``Unread`` of a kind comes before any object of
    it that could be read elsewhere (cluster-wide forbidden, then namespace by namespace).
    """
    for kind in OWNERS_FIRST:
        yield from _read_kind(api, kind, scope, page_size)


def _read_kind(
    api: Any, kind: PodBearingKind, scope: Scope, page_size: int
) -> Iterator[Listed | Unread | NotServed]:
    yielded = 0
    try:
        for listed in _read_list(api, kind, scope.namespace, page_size):
            yielded += 1
            yield listed
        return
    except _Refused as refused:
        if refused.error_type is NotFoundError and not yielded:
            yield NotServed(kind, f"{resource_name(kind)} is not served by this API server")
            return
        if refused.error_type is not ForbiddenError or scope.namespace is not None or yielded:
            yield _unread(kind, scope.namespace, refused)
            return
        forbidden = refused
    # Forbidden cluster-wide: namespace by namespace, as far as the namespaces are known.
    if scope.unread is not None:
        yield _unread(kind, None, forbidden)
        return
    for namespace in sorted(scope.labels):
        try:
            yield from _read_list(api, kind, namespace, page_size)
        except _Refused as refused:
            yield _unread(kind, namespace, refused)
