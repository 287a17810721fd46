"""``hardened webhook --workers N``: N processes on one port, and /metrics is the sum over all
of them whichever worker answers the scrape (issue 13 §3)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import orjson
import requests
from webhook_support import pod, review, root_pod_spec

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
