"""``hardened webhook`` as a process: flags, refusals, and the documented examples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.dev.processes import free_port
from hardened_operator.webhook import create_app, parse_listen
from hardened_operator.webhook.kinds import TARGETS
from tests.webhook.webhook_support import pod, review, root_pod_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
MANIFEST = ROOT / "manifests" / "06-validatingwebhookconfiguration.yaml"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--insecure", "--listen", "0.0.0.0:0"], "loopback"),
        (["--insecure", "--listen", "10.1.2.3:0"], "loopback"),
        (["--insecure", "--listen", "[::]:0"], "loopback"),
        (["--listen", "127.0.0.1:0"], "--tls-cert-file"),
        (["--listen", "127.0.0.1"], "HOST:PORT"),
        (["--listen", "127.0.0.1:99999", "--insecure"], "HOST:PORT"),
        (["--insecure", "--listen", "127.0.0.1:0", "--exempt-namespace", "kube-*"], "patterns"),
        (["--insecure", "--listen", "127.0.0.1:0", "--exempt-username", " "], "non-empty"),
        (["--insecure", "--listen", "127.0.0.1:0", "--profile", "lax"], "lax"),
        (["--insecure", "--listen", "127.0.0.1:0", "--max-body-bytes", "10"], "1024"),
    ],
    ids=[
        "insecure on all addresses",
        "insecure on a routable address",
        "insecure on all v6 addresses",
        "no certificates",
        "no port",
        "port out of range",
        "namespace pattern",
        "blank username",
        "unknown profile",
        "tiny body limit",
    ],
)
def test_refusals(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(main, ["webhook", *args])
    assert result.exit_code != 0
    assert needle in result.output


def test_help_lists_every_flag() -> None:
    result = CliRunner().invoke(main, ["webhook", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--listen",
        "--tls-cert-file",
        "--tls-key-file",
        "--insecure",
        "--profile",
        "--exempt-namespace",
        "--exempt-username",
        "--operator-namespace",
        "--max-body-bytes",
    ):
        assert flag in result.output


def test_parse_listen() -> None:
    assert parse_listen("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert parse_listen("[::1]:9443") == ("::1", 9443)
    assert parse_listen("localhost:0") == ("localhost", 0)


@contextmanager
def insecure_process(*extra: str) -> Iterator[str]:
    """``hardened webhook --insecure`` on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "hardened_operator.cli",
        "webhook",
        "--listen",
        f"127.0.0.1:{port}",
        "--insecure",
        *extra,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"webhook exited early: {proc.stdout.read() if proc.stdout else ''!r}"
                )
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        assert proc.wait(timeout=15) == 0, "SIGTERM must stop the webhook cleanly"


def _curl(url: str, example: Path) -> dict[str, Any]:
    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is needed to run the documented example")
        pytest.skip("curl is not installed")
    out = subprocess.run(
        [curl, "-sS", "-H", "Content-Type: application/json", "--data", f"@{example}", url],
        capture_output=True,
        check=True,
    ).stdout
    answer: dict[str, Any] = json.loads(out)
    return answer


def test_documented_curl_examples() -> None:
    """docs/webhook.md: the curl commands and the answers it shows."""
    root_pod = EXAMPLES / "admission-review-root-pod.json"
    deployment = EXAMPLES / "admission-review-deployment.json"
    with insecure_process() as base:
        denied = _curl(base + "/validate", root_pod)["response"]
        assert denied["uid"] == json.loads(root_pod.read_text())["request"]["uid"]
        assert denied["allowed"] is False and denied["status"]["code"] == 403
        assert 'init container "chown-data"' in denied["status"]["message"]
        assert "spec.initContainers[0].securityContext.runAsUser" in denied["status"]["message"]

        warned = _curl(base + "/validate/warn", root_pod)["response"]
        assert warned["allowed"] is True
        assert any("runAsUser" in w for w in warned["warnings"])

        audited = _curl(base + "/validate/audit", root_pod)["response"]
        assert audited["allowed"] is True and "runAsUser" in audited["auditAnnotations"]["checks"]

        allowed = _curl(base + "/validate", deployment)["response"]
        assert allowed == {
            "allowed": True,
            "uid": json.loads(deployment.read_text())["request"]["uid"],
        }


def test_flags_reach_the_server() -> None:
    with insecure_process("--exempt-namespace", "shop", "--profile", "restricted") as base:
        exempt = requests.post(
            base + "/validate", json=review(pod(root_pod_spec())), timeout=10
        ).json()["response"]
        assert exempt["allowed"] is True  # shop is exempt now ...
        elsewhere = requests.post(
            base + "/validate",
            json=review(pod(root_pod_spec()), namespace="kube-system"),
            timeout=10,
        ).json()["response"]
        assert elsewhere["allowed"] is True  # ... besides kube-system (the list adds)
        no_seccomp = pod()
        del no_seccomp["spec"]["securityContext"]["seccompProfile"]
        restricted = requests.post(
            base + "/validate", json=review(no_seccomp, namespace="web"), timeout=10
        ).json()["response"]
        assert restricted["allowed"] is False and "seccomp" in restricted["status"]["message"]


def test_https_process_from_the_shared_fixture(local_webhook: Any) -> None:
    """The way ``hardened dev`` and the end-to-end tests start it: TLS from generated files."""
    ca = Path(local_webhook.log).parent / "ca-for-test.pem"
    ca.write_bytes(local_webhook.ca_pem)
    answer = requests.post(
        local_webhook.url, json=review(pod(root_pod_spec())), verify=str(ca), timeout=10
    ).json()["response"]
    assert answer["allowed"] is False and answer["status"]["code"] == 403


def test_shipped_webhook_configuration_matches_the_routes() -> None:
    """manifests/: every webhook path is a route of ours with the mode its selector implies,
    and the rules cover every resource we evaluate (plus kubectl debug's subresource), or
    leave it to the shipped in-process policy (admission.enforcedBy: policy)."""
    config = yaml.safe_load(MANIFEST.read_text())
    policy = next(
        yaml.safe_load_all(MANIFEST.with_name("06-validatingadmissionpolicy.yaml").read_text())
    )
    in_process = {
        f"{group}/{resource}"
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    app = create_app()
    routes = {r.resource.canonical for r in app.router.routes() if r.method == "POST"}  # type: ignore[union-attr]
    assert routes == {"/validate", "/validate/{mode}"}
    expected_mode = {"enforce": "/validate", "warn": "/validate/warn", "audit": "/validate/audit"}
    wanted = {f"{group}/{resource}" for group, resource in TARGETS} | {"/pods/ephemeralcontainers"}
    seen_modes = set()
    for hook in config["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        mode = hook["name"].split(".", 1)[0]
        assert expected_mode[mode] == path
        seen_modes.add(mode)
        covered = {
            f"{group}/{resource}"
            for rule in hook["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            if {"CREATE", "UPDATE"} <= set(rule["operations"])
        }
        assert wanted <= covered | in_process, wanted - covered - in_process
        assert hook["failurePolicy"] == "Fail"
        assert hook["admissionReviewVersions"] == ["v1"]
    assert seen_modes == set(expected_mode)


def test_run_takes_exempt_username_like_webhook() -> None:
    """The README promises username exemptions: `hardened run` (what the chart runs) has the
    flag too, and a blank one is refused before anything contacts a cluster."""
    from hardened_operator.cli._exemptions import webhook_config

    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "--exempt-username" in help_text
    config = webhook_config(
        profile="nonroot",
        operator_namespace="hardened-system",
        namespaces=(),
        no_defaults=False,
        usernames=("ci-bot", "alice"),
    )
    assert config.exempt_usernames == frozenset({"ci-bot", "alice"})
    completed = subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", "run", "--no-webhook",
         "--kubeconfig", "/nonexistent", "--exempt-username", " "],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "exempt username ' ' must be a non-empty string" in completed.stderr
    assert "Traceback" not in completed.stderr
