"""The API clients: statuses mapped to our errors (the same in the synchronous bootstrap client),
retries with backoff, write counting, SSA request shape, and the certificate reuse rules --
against a local aiohttp server or stand-ins, no cluster."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from aiohttp import web

from hardened_operator import certs
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
from hardened_operator.k8s import statuses
from hardened_operator.k8s.certstore import is_usable, webhook_hosts
from hardened_operator.k8s.client import Connection, KubeClient, RetryPolicy, map_status
from hardened_operator.k8s.resources import DEPLOYMENTS

STATUS_CODES = [
    (400, ApiError), (401, UnauthorizedError), (403, ForbiddenError), (404, NotFoundError),
    (405, ApiError), (409, ConflictError), (410, ExpiredError), (422, InvalidError),
    (429, TransientApiError), (500, TransientApiError), (503, TransientApiError),
    (504, TransientApiError),
]  # fmt: skip


@pytest.mark.parametrize(("code", "kind"), STATUS_CODES)
def test_status_codes_map_to_our_errors(code: int, kind: type[ApiError]) -> None:
    body = json.dumps({"kind": "Status", "reason": "Because", "message": "no way"})
    error = map_status(code, body, "APPLY /x")
    assert type(error) is kind
    assert (error.status, error.reason) == (code, "Because")
    assert "no way" in str(error) and "APPLY /x" in str(error)


@pytest.mark.parametrize(
    ("error", "terminating", "denied"),
    [
        (ForbiddenError('events "x" is forbidden: unable to create new content in namespace'
                        " team-a because it is being terminated", status=403), True, False),
        (ForbiddenError('admission webhook "enforce.hardened-operator.ai-system.io" denied the'
                        " request: runs as root", status=403), False, True),
        (ForbiddenError('events is forbidden: User "x" cannot create resource "events"',
                        status=403), False, False),
        (ApiError("being terminated; denied the request", status=400), False, False),
    ],
)  # fmt: skip
def test_forbidden_answers_are_told_apart_by_what_they_say(
    error: ApiError, terminating: bool, denied: bool
) -> None:
    assert statuses.namespace_terminating(error) is terminating
    assert statuses.denied_by_admission(error) is denied


class _Refusing:
    """Stands in for a kubernetes API class: every call raises ``ApiException(status)``."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.calls: list[str] = []

    def __call__(self, _api: Any) -> _Refusing:
        return self

    def __getattr__(self, name: str) -> Any:
        def refuse(*_args: Any, **_kwargs: Any) -> Any:
            from kubernetes.client.exceptions import ApiException

            self.calls.append(name)
            error = ApiException(status=self.status, reason="Because")
            error.body = json.dumps({"kind": "Status", "message": "no way"})
            raise error

        return refuse


@pytest.mark.parametrize(("code", "kind"), STATUS_CODES)
def test_bootstrap_maps_statuses_like_the_client(
    code: int, kind: type[ApiError], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hardened_operator.k8s import bootstrap

    monkeypatch.setattr("kubernetes.client.CoreV1Api", _Refusing(code))
    with pytest.raises(ApiError) as raised:
        bootstrap.create_namespace(object(), "team-a")
    assert type(raised.value) is kind
    assert raised.value.status == code
    assert "create namespace team-a" in str(raised.value) and "no way" in str(raised.value)


def test_bootstrap_treats_exists_and_gone_as_done(monkeypatch: pytest.MonkeyPatch) -> None:
    from hardened_operator.k8s import bootstrap

    exists, gone = _Refusing(409), _Refusing(404)
    monkeypatch.setattr("kubernetes.client.CoreV1Api", exists)
    bootstrap.ensure_service_account(object(), "team-a")
    monkeypatch.setattr("kubernetes.client.CoreV1Api", gone)
    bootstrap.delete_namespace(object(), "team-a")
    monkeypatch.setattr("kubernetes.client.AdmissionregistrationV1Api", gone)
    bootstrap.delete_validating_webhook_configuration(object(), "hardened")
    assert exists.calls == ["create_namespaced_service_account"]
    assert gone.calls == ["delete_namespace", "delete_validating_webhook_configuration"]
    monkeypatch.setattr("kubernetes.client.CoreV1Api", _Refusing(403))
    with pytest.raises(ApiError):
        bootstrap.delete_namespace(object(), "team-a")


def _serve(handler: Any, scenario: Any) -> Any:
    async def main() -> Any:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        client = KubeClient(
            Connection(f"http://127.0.0.1:{port}", False, lambda: "Bearer t0ken"),
            retry=RetryPolicy(attempts=4, base_seconds=0.01, cap_seconds=0.02),
            timeout_seconds=1.0,
        )
        try:
            return await scenario(client)
        finally:
            await client.close()
            await runner.cleanup()

    return asyncio.run(main())


def test_server_side_apply_request_shape_and_write_count() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append({"method": request.method, "path": request.path,
                     "query": dict(request.query), "type": request.content_type,
                     "auth": request.headers.get("Authorization"),
                     "body": await request.json()})  # fmt: skip
        return web.json_response({"metadata": {"resourceVersion": "5"}})

    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 1}}  # fmt: skip

    async def scenario(client: KubeClient) -> int:
        await client.apply(dep)
        return client.write_count

    assert _serve(handler, scenario) == 1
    assert seen == [{"method": "PATCH", "path": "/apis/apps/v1/namespaces/ns/deployments/web",
                     "query": {"fieldManager": "hardened-operator", "force": "true"},
                     "type": "application/apply-patch+yaml", "auth": "Bearer t0ken",
                     "body": dep}]  # fmt: skip


def test_transient_failures_are_retried_then_succeed() -> None:
    answers = [503, 429, 200]

    async def handler(request: web.Request) -> web.Response:
        code = answers.pop(0)
        if code != 200:
            return web.json_response({"reason": "Busy", "message": "later"}, status=code)
        return web.json_response({"metadata": {"name": "web"}})

    async def scenario(client: KubeClient) -> Any:
        return await client.get(DEPLOYMENTS, "ns", "web")

    assert _serve(handler, scenario) == {"metadata": {"name": "web"}}
    assert answers == []


def test_persistent_transient_failure_gives_up_with_transient_error() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.json_response({"reason": "InternalError", "message": "etcd"}, status=500)

    async def scenario(client: KubeClient) -> Any:
        with pytest.raises(TransientApiError, match="etcd"):
            await client.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                                "metadata": {"name": "w", "namespace": "n"}})  # fmt: skip
        return client.write_count

    assert _serve(handler, scenario) == 4  # every attempt is a write the server saw
    assert calls == 4


def test_timeouts_are_transient_and_conflicts_are_not_retried() -> None:
    calls: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(request.method)
        if request.method == "GET":
            await asyncio.sleep(2)  # beyond the client's 1 s timeout
        return web.json_response({"reason": "Conflict", "message": "changed"}, status=409)

    async def scenario(client: KubeClient) -> None:
        with pytest.raises(TransientApiError):
            await client.get(DEPLOYMENTS, "ns", "web")
        with pytest.raises(ConflictError):
            await client.patch(DEPLOYMENTS, "ns", "web", {"spec": {}})

    _serve(handler, scenario)
    assert calls.count("GET") == 4 and calls.count("PATCH") == 1


def test_not_found_reads_as_none_and_deletes_quietly() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"reason": "NotFound", "message": "gone"}, status=404)

    async def scenario(client: KubeClient) -> Any:
        found = await client.get(DEPLOYMENTS, "ns", "web")
        await client.delete(DEPLOYMENTS, "ns", "web")
        return found

    assert _serve(handler, scenario) is None


HOSTS = webhook_hosts("hardened-operator-webhook", "hardened-system", ("127.0.0.1",))


def test_a_fresh_certificate_is_reused() -> None:
    assert is_usable(certs.generate(HOSTS), HOSTS, now=dt.datetime.now(dt.UTC), min_valid_days=30)


def test_certificates_that_must_be_replaced() -> None:
    good = certs.generate(HOSTS)
    other = certs.generate(HOSTS)
    assert not is_usable(
        good, [*HOSTS, "new.example"], now=dt.datetime.now(dt.UTC), min_valid_days=30
    )
    assert not is_usable(
        certs.generate(HOSTS, days=10), HOSTS, now=dt.datetime.now(dt.UTC), min_valid_days=30
    )
    mixed_key = certs.CertBundle(good.ca_pem, good.cert_pem, other.key_pem)
    assert not is_usable(mixed_key, HOSTS, now=dt.datetime.now(dt.UTC), min_valid_days=30)
    wrong_ca = certs.CertBundle(other.ca_pem, good.cert_pem, good.key_pem)
    assert not is_usable(wrong_ca, HOSTS, now=dt.datetime.now(dt.UTC), min_valid_days=30)
    garbage = certs.CertBundle(b"nope", b"nope", b"nope")
    assert not is_usable(garbage, HOSTS, now=dt.datetime.now(dt.UTC), min_valid_days=30)


def test_list_follows_continue_tokens() -> None:
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.query))
        page = int(request.query.get("continue") or 0)
        token = str(page + 1) if page < 2 else ""
        return web.json_response({"metadata": {"continue": token}, "items": [{"n": page}]})

    async def scenario(client: KubeClient) -> Any:
        return await client.list(DEPLOYMENTS, "ns", label_selector="a=b")

    assert _serve(handler, scenario) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [q.get("continue") for q in seen] == [None, "1", "2"]
    assert all(q["labelSelector"] == "a=b" and q["limit"] == "500" for q in seen)


@pytest.mark.parametrize(("status", "kind"), [*STATUS_CODES, (None, ApiError)])
def test_one_table_maps_statuses_to_errors(status: int | None, kind: type[ApiError]) -> None:
    from hardened_operator.k8s.statuses import api_error

    error = api_error("GET /x: nope", status=status, reason="Because")
    assert type(error) is kind
    assert (error.status, error.reason, str(error)) == (status, "Because", "GET /x: nope")
