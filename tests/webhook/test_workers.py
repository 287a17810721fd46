"""``hardened webhook --workers N``: N processes on one port, and /metrics is the sum over all
of them whichever worker answers the scrape (issue 13 §3)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import helm_python as helm
import orjson
import pytest
import requests
from click.testing import CliRunner

from hardened_operator import certs
from hardened_operator.cli import main
from hardened_operator.errors import InputError
from hardened_operator.webhook import WebhookConfig, serve
from hardened_operator.webhook import workers as worker_group
from hardened_operator.webhook.server import worker_args
from tests.support.chart import render_objects
from tests.webhook.webhook_support import pod, review, root_pod_spec

JSON = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def decisions(text: str, verdict: str) -> float:
    pattern = r'^hardened_webhook_decisions_total\{kind="Pod",mode="enforce",verdict="%s"\} (\S+)$'
    found = re.search(pattern % verdict, text, re.M)
    return float(found.group(1)) if found else 0.0


def test_two_workers_share_the_port_and_sum_their_metrics() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    command += ["--listen", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        time.sleep(1)  # both workers listening
        allowed, denied = orjson.dumps(review(pod())), orjson.dumps(review(pod(root_pod_spec())))
        for _ in range(20):  # a new connection each: the kernel spreads them over the workers
            answer = requests.post(base + "/validate", data=allowed, headers=JSON, timeout=10)
            assert answer.json()["response"]["allowed"] is True
        for _ in range(10):
            answer = requests.post(base + "/validate", data=denied, headers=JSON, timeout=10)
            assert answer.json()["response"]["allowed"] is False
        for _ in range(6):  # every scrape, from whichever worker, has the totals
            text = requests.get(base + "/metrics", timeout=10).text
            assert decisions(text, "allow") == 20
            assert decisions(text, "deny") == 10
            assert "hardened_webhook_request_duration_seconds_count 30.0" in text
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0, "SIGTERM stops the workers and the supervisor"


def test_workers_refuse_plain_http_off_loopback() -> None:
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    command += ["--listen", "0.0.0.0:0", "--workers", "2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "loopback" in result.stderr


def test_serve_with_workers_over_tls(tmp_path: Path) -> None:
    """What ``hardened run --workers`` uses: ``serve(..., workers=2)`` with certificates."""
    certs.generate(["127.0.0.1", "localhost"]).write(tmp_path)
    config = WebhookConfig(
        exempt_namespaces=frozenset({"kube-system"}), exempt_usernames=frozenset({"ci"})
    )
    server = asyncio.run(
        serve(config, "127.0.0.1", 0, tmp_path / "tls.crt", tmp_path / "tls.key", workers=2)
    )
    try:
        assert server.group is not None and len(server.group.pids) == 2
        assert server.url.startswith("https://127.0.0.1:")
        ca = str(tmp_path / "ca.crt")
        denied = orjson.dumps(review(pod(root_pod_spec())))
        exempt = orjson.dumps(review(pod(root_pod_spec()), username="ci"))
        for body, allowed in ((denied, False), (exempt, True)) * 8:
            answer = requests.post(
                server.url + "/validate", data=body, headers=JSON, verify=ca, timeout=10
            )
            assert answer.json()["response"]["allowed"] is allowed
        for _ in range(6):
            text = requests.get(server.url + "/metrics", verify=ca, timeout=10).text
            assert decisions(text, "deny") == 8
    finally:
        pids = server.group.pids if server.group else []
        asyncio.run(server.stop())
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_workers_get_every_setting_or_refuse() -> None:
    with pytest.raises(InputError, match="flags"):
        worker_args(WebhookConfig(large_timeout=1.0))
    args = worker_args(WebhookConfig(profile="restricted", exempt_namespaces=frozenset()))
    assert args[:3] == ["--profile", "restricted", "--no-default-exemptions"]
    assert "--exempt-namespace" not in args


def test_chart_value_webhook_workers_reaches_hardened_run() -> None:
    def args(values: dict[str, Any]) -> list[str]:
        deployment = next(o for o in render_objects(values) if o["kind"] == "Deployment")
        found: list[str] = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return found

    assert not any(a.startswith("--workers") for a in args({}))  # default: one process
    with_two = args({"webhook": {"workers": 2}})
    assert "--workers=2" in with_two
    result = CliRunner().invoke(main, ["run", "--help"])
    assert "--workers" in result.output
    with pytest.raises(helm.HelmError):
        args({"webhook": {"workers": 0}})  # the schema refuses it


def test_workers_stop_when_their_supervisor_is_killed() -> None:
    port = free_port()
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    command += ["--listen", f"127.0.0.1:{port}", "--workers", "2", "--log-level", "warning"]
    proc = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        workers = [
            int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _ppid(pid) == proc.pid
        ]
        assert len(workers) == 2
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 15
    while any(_running(pid) for pid in workers):
        assert time.monotonic() < deadline, "orphaned workers must stop serving"
        time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


def _ppid(pid: str) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_worker_whose_supervisor_died_before_it_started_stops(tmp_path: Path) -> None:
    # Its parent is no longer the supervisor it was started by (here: told pid 1, while the
    # parent is this test): it must not take the new parent for its supervisor and serve on.
    port = free_port()
    command = [sys.executable, "-m", "hardened_operator.cli", "webhook", "--insecure"]
    command += ["--listen", f"127.0.0.1:{port}", "--log-level", "warning"]
    env = {
        **os.environ,
        worker_group.WORKER_ENV: "1",
        worker_group.METRICS_DIR_ENV: str(tmp_path),
        worker_group.SUPERVISOR_ENV: "1",
    }
    proc = subprocess.Popen(command, env=env)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        raise AssertionError("an orphaned worker kept serving") from None
    assert proc.returncode == 0
