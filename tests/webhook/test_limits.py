"""No head-of-line blocking and no slowloris: large reviews are decided in a worker process,
within bounds, and slow clients are disconnected (issue 13 §4).

Every large review is answered correctly or refused with an HTTP error (the API server then
applies failurePolicy: Fail) - never allowed by accident - and the small ones keep flowing.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from hardened_operator.errors import PolicyError
from hardened_operator.webhook import Decision, WebhookConfig, WebhookServer
from hardened_operator.webhook.offload import decide_body
from tests.webhook.webhook_support import UID, pod, review, root_pod_spec, running_server

JSON = {"Content-Type": "application/json"}


def root_containers(count: int) -> dict[str, Any]:
    """A pod spec of ``count`` root containers: seconds of policy work at 40,000."""
    return {
        "containers": [
            {"name": f"container-{i:05d}", "image": "registry.example.com/a:1"}
            for i in range(count)
        ]
    }


def padded_review(uid: str, size: int, *, root: bool = False) -> bytes:
    """A one-container review padded (in an annotation) to about ``size`` bytes."""
    obj = pod(root_pod_spec() if root else None)
    obj["metadata"]["annotations"] = {"padding": "x" * size}
    return orjson.dumps(review(obj, uid=uid))


def post(server: WebhookServer, body: bytes, timeout: float = 30) -> requests.Response:
    return requests.post(server.url + "/validate", data=body, headers=JSON, timeout=timeout)


def chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 8192):
        yield body[start : start + 8192]


@pytest.fixture(scope="module")
def huge_body() -> bytes:
    body = orjson.dumps(review(pod(root_containers(40_000)), uid="huge"))
    assert len(body) > 2 * 1024 * 1024
    return body


def test_large_reviews_are_decided_in_a_worker_like_small_ones() -> None:
    config = WebhookConfig(large_body_bytes=4096)
    with running_server(config) as server:
        allowed = post(server, padded_review("big-ok", 20_000))
        assert allowed.status_code == 200, allowed.text
        assert allowed.json()["response"] == {"uid": "big-ok", "allowed": True}
        denied = post(server, padded_review("big-root", 20_000, root=True)).json()["response"]
        assert denied["allowed"] is False and denied["uid"] == "big-root"
        assert denied["status"]["code"] == 403
        # Chunked (no Content-Length): the size is known only once it is read.
        chunked = requests.post(
            server.url + "/validate",
            data=chunks(padded_review("big-chunked", 20_000, root=True)),
            headers=JSON,
            timeout=30,
        )
        assert chunked.json()["response"]["allowed"] is False
        # Bad large bodies are refused exactly as small ones are.
        bad = post(server, b"[" * 5000 + b"]" * 5000)
        assert bad.status_code == 400 and "nested" in bad.text
        not_json = post(server, b"{" + b" " * 8000)
        assert not_json.status_code == 400
        metrics = requests.get(server.url + "/metrics", timeout=10).text
        assert 'hardened_webhook_decisions_total{kind="Pod",mode="enforce",verdict="deny"} 2.0' in (
            metrics
        )
        assert 'hardened_webhook_rejected_requests_total{reason="too_deep"} 1.0' in metrics


def test_decide_body_refuses_what_the_event_loop_refuses() -> None:
    config = WebhookConfig()
    for body, reason in ((b"not json", "not_json"), (b'{"kind": "x"}', "not_admission_review")):
        kind, refusal = decide_body(body, "enforce", config)
        assert kind == "refuse" and isinstance(refusal, tuple)
        assert refusal[:2] == (400, reason)
    kind, decision = decide_body(orjson.dumps(review(pod(root_pod_spec()))), "enforce", config)
    assert kind == "decision" and isinstance(decision, Decision)
    assert decision.allowed is False


def test_a_huge_review_does_not_delay_small_ones(huge_body: bytes) -> None:
    with running_server(WebhookConfig(large_timeout=30)) as server:
        post(server, padded_review("warm-up", 40_000))  # start the worker process
        small = orjson.dumps(review(pod()))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            huge = pool.submit(post, server, huge_body)
            time.sleep(0.3)  # the huge one is being evaluated now
            latencies = []
            while not huge.done():
                started = time.perf_counter()
                answer = post(server, small)
                latencies.append(time.perf_counter() - started)
                assert answer.json()["response"] == {"uid": UID, "allowed": True}
            verdict = huge.result().json()["response"]
        assert verdict["allowed"] is False and verdict["uid"] == "huge"
        assert len(latencies) >= 10
        # On the event loop the huge review held everything for seconds; now the small ones
        # wait for nothing but their own work (generous bound: this machine is shared).
        assert statistics.median(latencies) < 0.1, latencies
        assert max(latencies) < 1.0, latencies  # on the event loop: the whole evaluation, ~2 s


def test_large_reviews_beyond_the_bound_are_refused_not_queued(huge_body: bytes) -> None:
    config = WebhookConfig(large_in_flight=1, large_timeout=30)
    with running_server(config) as server:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            first = pool.submit(post, server, huge_body)
            time.sleep(1.0)  # its head is in: it holds the only slot for seconds
            started = time.perf_counter()
            second = post(server, padded_review("second", 40_000))
            assert second.status_code == 429, second.text
            assert time.perf_counter() - started < 2
            assert first.result().json()["response"]["allowed"] is False
        # The slot is free again.
        again = post(server, padded_review("again", 40_000))
        assert again.json()["response"] == {"uid": "again", "allowed": True}
        metrics = requests.get(server.url + "/metrics", timeout=10).text
        assert 'hardened_webhook_rejected_requests_total{reason="busy"} 1.0' in metrics


def test_a_review_over_the_time_limit_is_refused(huge_body: bytes) -> None:
    with running_server(WebhookConfig(large_timeout=0.3)) as server:
        started = time.perf_counter()
        answer = post(server, huge_body)
        assert answer.status_code == 503, answer.text
        assert "not decided within" in answer.text
        assert time.perf_counter() - started < 3
        small = post(server, orjson.dumps(review(pod())))
        assert small.json()["response"] == {"uid": UID, "allowed": True}


def test_config_refuses_nonsense_limits() -> None:
    for bad in (
        {"large_body_bytes": 10},
        {"large_workers": 0},
        {"large_in_flight": 0},
        {"large_timeout": 0},
        {"header_timeout": -1},
        {"body_timeout": 1e9},
        {"idle_timeout": float("nan")},
    ):
        with pytest.raises(PolicyError):
            WebhookConfig(**bad)


# -- slow clients ------------------------------------------------------------------------------


def closed_within(raw: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed ``raw`` within ``seconds``, and what it sent first."""
    raw.settimeout(seconds)
    received = b""
    with contextlib.suppress(TimeoutError, OSError):
        while chunk := raw.recv(4096):
            received += chunk
        return True, received
    return False, received


# A long idle timeout: aiohttp's own keep-alive timer must not be what closes slow heads.
FAST = WebhookConfig(header_timeout=0.5, body_timeout=0.5, idle_timeout=60)


def test_a_connection_that_sends_nothing_is_idle_not_slow() -> None:
    # The API server's pool dials connections it uses later: the head timeout must not
    # close them (that would race its next request); the idle timeout does.
    with running_server(WebhookConfig(header_timeout=0.3, idle_timeout=1.5)) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        time.sleep(0.8)
        body = orjson.dumps(review(pod()))
        raw.sendall(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        raw.settimeout(5)
        assert b'"allowed":true' in raw.recv(65536)
        raw.close()
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        started = time.monotonic()
        closed, _ = closed_within(silent, 5)
        assert closed and 1.0 < time.monotonic() - started < 4
        silent.close()


def test_slowloris_headers_are_cut_off() -> None:
    with running_server(FAST) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        started = time.monotonic()
        head = b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        closed = False
        with contextlib.suppress(OSError):
            for byte in head + b"X-Slow: " + b"a" * 100:
                raw.sendall(bytes([byte]))
                time.sleep(0.05)
                if time.monotonic() - started > 4:
                    break
        closed, received = closed_within(raw, 3)
        assert closed
        assert time.monotonic() - started < 4
        assert b'"allowed":true' not in received
        raw.close()
        assert post(server, orjson.dumps(review(pod()))).status_code == 200


def test_slow_body_gets_408_and_the_connection_closed() -> None:
    with running_server(FAST) as server:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        raw.sendall(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"apiVersion":'
        )
        started = time.monotonic()
        closed, received = closed_within(raw, 5)
        assert closed and received.startswith(b"HTTP/1.1 408"), received
        assert time.monotonic() - started < 4
        raw.close()
        metrics = requests.get(server.url + "/metrics", timeout=10).text
        assert 'hardened_webhook_rejected_requests_total{reason="body_timeout"} 1.0' in metrics


def test_keep_alive_survives_between_quick_requests_and_idles_out() -> None:
    with running_server(WebhookConfig(header_timeout=0.5, idle_timeout=1.0)) as server:
        body = orjson.dumps(review(pod()))
        with requests.Session() as session:
            for _ in range(3):  # one connection, several requests, each head in time
                answer = session.post(server.url + "/validate", data=body, headers=JSON)
                assert answer.json()["response"]["allowed"] is True
                time.sleep(0.6)  # over the head timeout: idle is not a slow head
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        raw.sendall(
            b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        closed, received = closed_within(raw, 4)  # answered, then idle: closed
        assert closed and b'"allowed":true' in received
        raw.close()


def test_large_review_workers_leave_when_their_server_is_killed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    server = subprocess.Popen([*command, "--listen", f"127.0.0.1:{port}"])
    try:
        url = f"http://127.0.0.1:{port}/validate"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.post(
                    url, data=padded_review("big", 40_000), headers=JSON, timeout=30
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.json()["response"]["allowed"] is True
        workers = [
            int(pid)
            for pid in os.listdir("/proc")
            if pid.isdigit() and _parent(int(pid)) == server.pid
        ]
        assert workers, "the large review was decided in a worker process"
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "orphaned workers must exit"
            time.sleep(0.2)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _spawned_workers() -> set[int]:
    """This process's children that multiprocessing spawned (large-review workers)."""
    found = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and _parent(int(pid)) == os.getpid():
            with contextlib.suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.add(int(pid))
    return found


def test_a_worker_dying_mid_review_is_a_refusal_and_the_pool_comes_back(
    huge_body: bytes,
) -> None:
    before = _spawned_workers()
    with running_server(WebhookConfig(large_timeout=30)) as server:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            huge = pool.submit(post, server, huge_body)
            deadline = time.monotonic() + 20
            while not (workers := _spawned_workers() - before):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            time.sleep(1.0)  # deciding now
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
            answer = huge.result()
        assert answer.status_code == 503, answer.text
        assert "died" in answer.text
        again = post(server, padded_review("again", 40_000))
        assert again.json()["response"] == {"uid": "again", "allowed": True}
