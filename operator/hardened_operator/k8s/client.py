"""An asyncio client for the Kubernetes API, used on kopf's event loop.

Why not the official ``kubernetes`` client for the calls: it is synchronous, so 1000 objects
reconciled at once would need a thread per in-flight call (and the GIL churn that comes with
it). We keep the official package for what it does best -- reading kubeconfig (including exec
plugins) and the in-cluster service-account token with refresh -- and send the requests with
aiohttp, which kopf already runs on. Every call goes through :meth:`KubeClient._request`, which
maps failures to ``errors.ApiError`` subclasses, retries the transient ones with jittered
exponential backoff and counts writes (the "zero writes on idle resync" measure).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import json
import logging
import os
import random
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from hardened_operator import FIELD_MANAGER
from hardened_operator.errors import ApiError, NotFoundError, TransientApiError
from hardened_operator.k8s import metrics, statuses
from hardened_operator.k8s.resources import EVENTS, Resource, for_object
from hardened_operator.k8s.statuses import api_error

log = logging.getLogger(__name__)

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
_WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential backoff for transient failures."""

    attempts: int = 6
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(retry_after, self.cap_seconds * 4)
        ceiling = min(self.cap_seconds, self.base_seconds * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # jitter, not crypto


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate, resolved from kubeconfig/in-cluster."""

    server: str
    ssl_context: ssl.SSLContext | bool
    auth_header: Any  # a callable returning the Authorization header value, or None


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """A ``kubernetes.client.Configuration``: the explicit kubeconfig, then $KUBECONFIG, else
    in-cluster, else ~/.kube/config. A ``context`` names a kubeconfig entry, so with one the
    in-cluster account is never used: ``--context prod`` run in a CI pod must reach prod or
    fail, not quietly use the pod's own cluster.

    The one resolution order for every connection the operator opens -- our client and kopf's
    login alike -- so ``--kubeconfig`` can never send the two to different clusters.
    """
    from kubernetes import client as kclient
    from kubernetes import config as kconfig

    cfg = kclient.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        kconfig.load_kube_config(config_file=path, context=context, client_configuration=cfg)  # type: ignore[no-untyped-call]
        return cfg
    if context is None:
        try:
            kconfig.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
        except kconfig.ConfigException:
            pass
        else:
            return cfg
    kconfig.load_kube_config(context=context, client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


def bearer_header(cfg: Any) -> str | None:
    """The Authorization header value (calls the refresh hook: a rotated token is re-read).

    kubernetes >= 36 keeps the token under "BearerToken"; older ones under "authorization".
    """
    value: str | None = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
        "authorization"
    )
    return value


def load_connection(kubeconfig: str | None = None, context: str | None = None) -> Connection:
    """Resolve like :func:`load_configuration`; see there."""
    cfg = load_configuration(kubeconfig, context)

    ssl_context: ssl.SSLContext | bool
    if cfg.verify_ssl:
        ssl_context = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
    else:
        ssl_context = ssl.create_default_context()
        ssl_context.check_hostname = False
        ssl_context.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        ssl_context.load_cert_chain(cfg.cert_file, cfg.key_file)

    def auth_header() -> str | None:
        return bearer_header(cfg)

    return Connection(server=cfg.host.rstrip("/"), ssl_context=ssl_context, auth_header=auth_header)


class KubeClient:
    """The operator's only door to the API server (create it on the loop that will use it)."""

    def __init__(
        self,
        connection: Connection,
        *,
        retry: RetryPolicy | None = None,
        timeout_seconds: float = 30.0,
        max_connections: int = 64,
    ) -> None:
        self._conn = connection
        self._retry = retry or RetryPolicy()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, ssl=connection.ssl_context),
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        )
        self.writes: collections.Counter[str] = collections.Counter()
        """Writes issued by this client, keyed ``"VERB plural"`` (read by tests)."""

    @property
    def write_count(self) -> int:
        return sum(self.writes.values())

    async def close(self) -> None:
        await self._session.close()

    # -- the one place requests are sent -------------------------------------------------

    async def _request(
        self,
        method: str,
        resource: Resource,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        verb = "APPLY" if content_type == APPLY_PATCH else method
        headers = {"Accept": "application/json"}
        token = self._conn.auth_header()
        if token:
            headers["Authorization"] = token
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        url = self._conn.server + path
        for attempt in range(self._retry.attempts):
            if method in _WRITE_VERBS:
                self.writes[f"{verb} {resource.plural}"] += 1
                metrics.API_WRITES.labels(verb, resource.plural).inc()
            try:
                async with self._session.request(
                    method, url, params=params, data=data, headers=headers
                ) as response:
                    text = await response.text()
                    code = response.status
                    retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError) as exc:
                metrics.API_REQUESTS.labels(verb, resource.plural, "error").inc()
                error: ApiError = TransientApiError(
                    f"{verb} {path}: {type(exc).__name__}: {exc}", reason="Timeout"
                )
                retry_seconds = None
            else:
                metrics.API_REQUESTS.labels(verb, resource.plural, str(code)).inc()
                if code < 400:
                    return json.loads(text) if text else None
                error = map_status(code, text, f"{verb} {path}")
                retry_seconds = _seconds(retry_after)
            if not isinstance(error, TransientApiError) or attempt + 1 == self._retry.attempts:
                raise error
            metrics.API_RETRIES.labels(verb, resource.plural).inc()
            delay = self._retry.delay(attempt, retry_seconds)
            log.info("retrying %s %s in %.2fs after: %s", verb, path, delay, error)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    # -- reads ---------------------------------------------------------------------------

    async def get(
        self, resource: Resource, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            obj: dict[str, Any] = await self._request(
                "GET", resource, resource.path(namespace, name)
            )
        except NotFoundError:
            return None
        return obj

    async def pages(
        self,
        resource: Resource,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        page_size: int = 500,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The items, a page at a time (bounded responses, hence bounded peak memory)."""
        token = ""
        while True:
            params = {"limit": str(page_size)}
            if label_selector:
                params["labelSelector"] = label_selector
            if token:
                params["continue"] = token
            page = await self._request("GET", resource, resource.path(namespace), params=params)
            yield page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                return

    async def find(self, resource: Resource, namespace: str | None, name: str) -> Any:
        """The object by name, or None -- through LIST with a field selector, because the
        operator's RBAC grants list (for its watches), not get, on the kinds it owns."""
        page = await self._request(
            "GET",
            resource,
            resource.path(namespace),
            params={"fieldSelector": f"metadata.name={name}"},
        )
        items = page.get("items") or []
        if not items:
            return None
        obj: dict[str, Any] = items[0]
        obj.setdefault("kind", resource.kind)  # LIST items carry no kind
        obj.setdefault("apiVersion", resource.api_version)
        return obj

    async def probe(self, resource: Resource, namespace: str | None = None) -> None:
        """One LIST of at most one item: the API answers and lets us read ``resource``."""
        await self._request("GET", resource, resource.path(namespace), params={"limit": "1"})

    async def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str = ""
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        async for page in self.pages(resource, namespace, label_selector=label_selector):
            items.extend(page)
        return items

    # -- writes --------------------------------------------------------------------------

    async def apply(self, obj: Mapping[str, Any], *, force: bool = True) -> dict[str, Any]:
        """Server-side apply as ``hardened-operator``; ``force`` takes back fields we own."""
        resource = for_object(obj)
        meta = obj["metadata"]
        params = {"fieldManager": FIELD_MANAGER, "force": "true" if force else "false"}
        path = resource.path(meta.get("namespace"), meta["name"])
        result: dict[str, Any] = await self._request(
            "PATCH", resource, path, params=params, body=obj, content_type=APPLY_PATCH
        )
        return result

    async def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str = "",
    ) -> dict[str, Any]:
        path = resource.path(namespace, name, subresource)
        params = {"fieldManager": FIELD_MANAGER}
        result: dict[str, Any] = await self._request(
            "PATCH", resource, path, params=params, body=patch, content_type=content_type
        )
        return result

    async def patch_status(
        self, resource: Resource, namespace: str, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Merge-patch the status subresource (lists such as conditions are replaced whole)."""
        return await self.patch(
            resource, namespace, name, {"status": dict(status)}, subresource="status"
        )

    async def create(self, resource: Resource, namespace: str | None, obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "POST", resource, resource.path(namespace), body=obj
        )
        return result

    async def delete(self, resource: Resource, namespace: str | None, name: str) -> None:
        """Delete ``name``; already gone is fine."""
        with contextlib.suppress(NotFoundError):
            await self._request("DELETE", resource, resource.path(namespace, name))

    async def post_event(
        self,
        involved: Mapping[str, Any],
        *,
        reason: str,
        message: str,
        type_: str = "Normal",
    ) -> None:
        """Record a core/v1 Event about ``involved`` (best effort: failures are only logged)."""
        meta = involved.get("metadata", {})
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta.get('name')}.{uuid.uuid4().hex[:16]}",
                "namespace": meta.get("namespace"),
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": socket.gethostname()[:128],
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.create(EVENTS, meta.get("namespace"), event)
        except ApiError as exc:
            # A terminating namespace's HardenedServices are going away with it.
            terminating = statuses.namespace_terminating(exc)
            log.log(
                logging.DEBUG if terminating else logging.WARNING,
                "could not record event %s on %s: %s",
                reason,
                meta.get("name"),
                exc,
            )


def map_status(code: int, text: str, what: str) -> ApiError:
    """An HTTP error answer (a ``Status`` body) -> our exception, typed by ``statuses``."""
    reason, message = None, text.strip()[:500]
    try:
        status = json.loads(text)
        reason, message = status.get("reason"), status.get("message", message)
    except (ValueError, AttributeError):
        pass
    full = f"{what}: {code} {reason or ''}: {message}".replace(" : ", ": ")
    return api_error(full, status=code, reason=reason)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
