"""Real HTTP and HTTPS against a server on 127.0.0.1: every bad-input class is refused
(never allowed, never a 5xx) and the very next request is served normally."""

from __future__ import annotations

import contextlib
import gzip
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from hardened_operator import certs
from hardened_operator.webhook import WebhookConfig, WebhookServer
from tests.webhook.webhook_support import UID, pod, review, root_pod_spec, running_server, workload

MIB = 1024 * 1024
JSON = {"Content-Type": "application/json"}


class Client:
    """requests against one running server (verifying TLS with the test CA)."""

    def __init__(self, server: WebhookServer, ca_file: Path | None) -> None:
        self.server = server
        self.base = server.url
        self.verify: str | bool = str(ca_file) if ca_file else True

    def post(
        self, body: Any, *, path: str = "/validate", headers: dict[str, str] | None = None
    ) -> requests.Response:
        data = (
            body
            if isinstance(body, bytes | str) or callable(getattr(body, "__next__", None))
            else orjson.dumps(body)
        )
        return requests.post(
            self.base + path,
            data=data,
            headers=JSON if headers is None else headers,
            verify=self.verify,
            timeout=30,
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, verify=self.verify, timeout=30)

    def serves_normally(self) -> None:
        """A compliant pod is allowed and a root pod denied, right now."""
        ok = self.post(review(pod()))
        assert ok.status_code == 200, ok.text
        assert ok.json()["response"] == {"uid": UID, "allowed": True}
        denied = self.post(review(pod(root_pod_spec()), uid="after"))
        assert denied.status_code == 200
        assert denied.json()["response"]["allowed"] is False
        assert denied.json()["response"]["uid"] == "after"
        assert self.get("/healthz").status_code == 200


@pytest.fixture(scope="module", params=["http", "https"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Client]:
    config = WebhookConfig(max_body_bytes=4 * MIB)
    if request.param == "http":
        with running_server(config) as server:
            yield Client(server, None)
        return
    directory = tmp_path_factory.mktemp("tls")
    ca, cert, key = certs.generate(["127.0.0.1", "localhost"]).write(directory)
    with running_server(config, cert_file=cert, key_file=key) as server:
        assert server.url.startswith("https://")
        yield Client(server, ca)


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    yield b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","x":"'
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}}'


def _huge_review() -> bytes:
    body = review(pod())
    body["request"]["object"]["metadata"]["annotations"] = {"blob": "x" * (5 * MIB)}
    return orjson.dumps(body)


# (id, how to send it) -> every one must be an HTTP 4xx, never a 5xx, never allowed.
BAD_INPUTS: list[tuple[str, Callable[[Client], requests.Response]]] = [
    ("not json", lambda c: c.post(b"this is not json")),
    ("empty body", lambda c: c.post(b"")),
    ("not utf-8", lambda c: c.post(b"\xff\xfe\x00{")),
    ("json array", lambda c: c.post(b"[1, 2, 3]")),
    ("json string", lambda c: c.post(b'"AdmissionReview"')),
    ("not an AdmissionReview", lambda c: c.post({"apiVersion": "v1", "kind": "Pod"})),
    (
        "v1beta1 review",
        lambda c: c.post({**review(pod()), "apiVersion": "admission.k8s.io/v1beta1"}),
    ),
    (
        "no request",
        lambda c: c.post({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
    ),
    (
        "no uid",
        lambda c: c.post({**review(pod()), "request": {**review(pod())["request"], "uid": None}}),
    ),
    ("huge body with length", lambda c: c.post(_huge_review())),
    ("huge body chunked", lambda c: c.post(_chunks(6 * MIB))),
    ("array bomb", lambda c: c.post(b"[" * 200_000 + b"]" * 200_000)),
    ("object bomb", lambda c: c.post(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)),
    (
        "bomb inside a review",
        lambda c: c.post(
            b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","object":'
            + b"[" * 50_000
            + b"]" * 50_000
            + b"}}"
        ),
    ),
    ("GET /validate", lambda c: c.get("/validate")),
    (
        "PUT /validate",
        lambda c: requests.put(
            c.base + "/validate", data=b"{}", headers=JSON, verify=c.verify, timeout=30
        ),
    ),
    (
        "text/plain",
        lambda c: c.post(orjson.dumps(review(pod())), headers={"Content-Type": "text/plain"}),
    ),
    (
        "form content type",
        lambda c: c.post(b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"}),
    ),
    (
        "gzip body",
        lambda c: c.post(
            gzip.compress(orjson.dumps(review(pod()))),
            headers={**JSON, "Content-Encoding": "gzip"},
        ),
    ),
    ("no content type", lambda c: c.post(orjson.dumps(review(pod())), headers={})),
    ("mode twice", lambda c: c.post(review(pod()), path="/validate?mode=warn&mode=audit")),
    ("path and query disagree", lambda c: c.post(review(pod()), path="/validate/warn?mode=audit")),
    ("mode path too deep", lambda c: c.post(review(pod()), path="/validate/warn/extra")),
    ("unknown path", lambda c: c.post(review(pod()), path="/mutate")),
]


@pytest.mark.parametrize("send", [b[1] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_refused_then_the_next_request_is_served(
    client: Client, send: Callable[[Client], requests.Response]
) -> None:
    response = send(client)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert b'"allowed":true' not in response.content
    client.serves_normally()


# Requests with a uid to echo: HTTP 200 with a denial that names the problem.
ECHOED: list[tuple[str, dict[str, Any], str]] = [
    ("object of the wrong kind", review(pod(), kind="Deployment"), "expected apps/Deployment"),
    ("object is a string", review("a Pod, honest", kind="Pod"), "must be a Pod object"),
    ("object missing", review(None, kind="Pod"), "must be a Pod object"),
    (
        "template of the wrong shape",
        review({**workload("Deployment"), "spec": {"template": 7}}),
        "spec.template",
    ),
    ("unknown operation", review(pod(), operation="MERGE"), "request.operation"),
    (
        "request.kind disagrees",
        {**review(pod())}
        | {
            "request": {
                **review(pod())["request"],
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            }
        },
        "does not match",
    ),
]


@pytest.mark.parametrize(("body", "needle"), [e[1:] for e in ECHOED], ids=[e[0] for e in ECHOED])
def test_bad_object_is_denied_with_the_uid(
    client: Client, body: dict[str, Any], needle: str
) -> None:
    response = client.post(body)
    assert response.status_code == 200
    answer = response.json()
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == UID
    assert answer["response"]["allowed"] is False
    assert answer["response"]["status"]["code"] == 400
    assert needle in answer["response"]["status"]["message"]
    client.serves_normally()


@pytest.mark.parametrize("path", ["/validate?mode=permissive", "/validate/disabled"])
def test_unknown_mode_is_a_denial(client: Client, path: str) -> None:
    answer = client.post(review(pod()), path=path).json()["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 400
    assert "unknown mode" in answer["status"]["message"]


def test_garbage_http_does_not_kill_the_server(client: Client) -> None:
    if client.server.scheme == "https":
        raw = socket.create_connection(("127.0.0.1", client.server.port), timeout=10)
        raw.sendall(b"\x16\x03\x01\x00\x05hello, not TLS at all" * 10)
    else:
        raw = socket.create_connection(("127.0.0.1", client.server.port), timeout=10)
        raw.sendall(b"BLAH /validate HTTP/9.9\r\nContent-Length: -5\r\n\x00\r\n\r\n")
    with contextlib.suppress(OSError):
        raw.recv(4096)
    raw.close()
    client.serves_normally()


def test_body_cut_short_does_not_hurt() -> None:
    with running_server(WebhookConfig()) as server:
        _cut_short(Client(server, None))


def _cut_short(client: Client) -> None:
    raw = socket.create_connection(("127.0.0.1", client.server.port), timeout=10)
    raw.sendall(
        b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"apiVersion":'
    )
    raw.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        assert b'"allowed":true' not in raw.recv(4096)
    raw.close()
    client.serves_normally()


def test_denial_over_the_wire(client: Client) -> None:
    response = client.post(review(workload("Deployment", root_pod_spec())))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    answer = response.json()["response"]
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert 'container "app"' in answer["status"]["message"]
    assert (
        "spec.template.spec.containers[0].securityContext.runAsUser" in answer["status"]["message"]
    )


def test_warn_and_audit_modes_over_the_wire(client: Client) -> None:
    warned = client.post(review(pod(root_pod_spec())), path="/validate?mode=warn").json()[
        "response"
    ]
    assert warned["allowed"] is True
    assert any("runAsUser" in w for w in warned["warnings"])
    audited = client.post(review(pod(root_pod_spec())), path="/validate?mode=audit").json()[
        "response"
    ]
    assert audited["allowed"] is True
    assert "runAsUser" in audited["auditAnnotations"]["checks"]
    enforced = client.post(review(pod(root_pod_spec())), path="/validate?mode=enforce").json()[
        "response"
    ]
    assert enforced["allowed"] is False


def test_body_at_the_limit_is_accepted() -> None:
    config = WebhookConfig(max_body_bytes=64 * 1024)
    body = review(pod())
    body["request"]["object"]["metadata"]["annotations"] = {"pad": ""}
    base = len(orjson.dumps(body))
    body["request"]["object"]["metadata"]["annotations"]["pad"] = "x" * (64 * 1024 - base)
    exact = orjson.dumps(body)
    assert len(exact) == 64 * 1024
    with running_server(config) as server:
        client = Client(server, None)
        assert client.post(exact).json()["response"]["allowed"] is True
        assert client.post(exact + b" ").status_code == 400


def test_healthz_and_metrics(tmp_path: Path) -> None:
    with running_server(WebhookConfig()) as server:
        client = Client(server, None)
        assert client.get("/healthz").text == "ok\n"
        client.post(review(pod()))
        client.post(review(pod(root_pod_spec())))
        client.post(review(workload("Deployment", root_pod_spec())), path="/validate?mode=warn")
        client.post(review(pod(root_pod_spec()), namespace="kube-system"))
        client.post(b"nope")
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["Content-Type"].startswith("text/plain")
        text = metrics.text
    expected = [
        'hardened_webhook_decisions_total{kind="Pod",mode="enforce",verdict="allow"} 1.0',
        'hardened_webhook_decisions_total{kind="Pod",mode="enforce",verdict="deny"} 1.0',
        'hardened_webhook_decisions_total{kind="Deployment",mode="warn",verdict="warn"} 1.0',
        'hardened_webhook_decisions_total{kind="Pod",mode="enforce",verdict="exempt"} 1.0',
        'hardened_webhook_violations_total{check="runAsUser",kind="Pod",mode="enforce"} 1.0',
        'hardened_webhook_violations_total{check="runAsUser",kind="Deployment",mode="warn"} 1.0',
        'hardened_webhook_rejected_requests_total{reason="not_json"} 1.0',
        "hardened_webhook_request_duration_seconds_count 4.0",
        'hardened_webhook_policy_cache_lookups_total{result="miss"} 3.0',
    ]
    for line in expected:
        assert line in text, f"{line!r} missing from /metrics:\n{text}"


def test_two_apps_keep_separate_metrics() -> None:
    with running_server(WebhookConfig()) as first, running_server(WebhookConfig()) as second:
        Client(first, None).post(review(pod()))
        one = Client(first, None).get("/metrics").text
        two = Client(second, None).get("/metrics").text
    assert 'verdict="allow"} 1.0' in one
    assert 'verdict="allow"}' not in two
