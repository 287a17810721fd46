"""``hardened dev up`` / ``status`` / ``down`` as a user runs them (subprocesses, real binaries)."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.dev import assets, processes
from hardened_operator.dev.processes import ProcessRecord
from hardened_operator.errors import AssetsNotFoundError
from hardened_operator.k8s import bootstrap
from tests.support import controlplane

pytestmark = pytest.mark.controlplane

ROOT_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "root"},
    "spec": {"securityContext": {"runAsUser": 0}, "containers": [{"name": "c", "image": "x"}]},
}
NON_ROOT_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "non-root"},
    "spec": {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "c",
                "image": "x",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}


def hardened(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    # KUBECONFIG must not leak in: `dev up` writes its own, and nothing here may touch a
    # real cluster the developer happens to point at.
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    return subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def plane_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for `dev up`; whatever the test does, `dev down` runs afterwards."""
    try:
        assets.require_assets()
    except AssetsNotFoundError as error:
        if controlplane.required():
            pytest.fail(str(error))
        pytest.skip(str(error))
    directory = tmp_path / "plane"
    yield directory
    if (directory / "state.json").exists():
        hardened("dev", "down", "--dir", str(directory))


def _records(directory: Path) -> list[ProcessRecord]:
    state = json.loads((directory / "state.json").read_text())
    return [ProcessRecord.from_json(p) for p in state["processes"]]


def _processes_mentioning(directory: Path) -> list[str]:
    """Every live process whose command line names ``directory`` (etcd's data dir, etc.)."""
    found = []
    needle = str(directory).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


def _assert_all_gone(directory: Path, records: list[ProcessRecord]) -> None:
    still = [f"{r.name} (pid {r.pid})" for r in records if processes.is_running(r)]
    assert still == [], f"still running after `dev down`: {still}"
    assert _processes_mentioning(directory) == []


def _etcd_health(plane_dir: Path, client_cert: bool) -> str:
    port = json.loads((plane_dir / "state.json").read_text())["ports"]["etcd"]
    context = ssl.create_default_context(cafile=str(plane_dir / "pki/etcd/ca.crt"))
    if client_cert:
        client_dir = plane_dir / "pki/etcd-client"
        context.load_cert_chain(client_dir / "tls.crt", client_dir / "tls.key")
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=context) as response:
        return str(response.read().decode())


def _assert_etcd_needs_the_apiserver_certificate(plane_dir: Path) -> None:
    """etcd holds every Secret: on a shared machine, no certificate means no access."""
    assert json.loads(_etcd_health(plane_dir, client_cert=True))["health"] == "true"
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _etcd_health(plane_dir, client_cert=False)


def test_up_status_down_leaves_no_process_behind(plane_dir: Path) -> None:
    up = hardened("dev", "up", "--dir", str(plane_dir), "--no-operator", "--no-build")
    assert up.returncode == 0, up.stderr
    kubeconfig = plane_dir / "kubeconfig"
    assert f"export KUBECONFIG={kubeconfig}" in up.stdout
    records = _records(plane_dir)
    assert [r.name for r in records] == ["etcd", "kube-apiserver"]
    assert all(processes.is_running(r) for r in records)
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"  # it holds the admin key

    api = bootstrap.api_client(kubeconfig)
    try:
        assert bootstrap.server_version(api) == assets.KUBERNETES_VERSION
    finally:
        api.close()

    _assert_etcd_needs_the_apiserver_certificate(plane_dir)

    status = hardened("dev", "status", "--dir", str(plane_dir))
    assert status.returncode == 0, status.stdout + status.stderr
    assert "ready" in status.stdout

    refused = hardened("dev", "up", "--dir", str(plane_dir), "--no-operator", "--no-build")
    assert refused.returncode == 1
    assert "already running" in refused.stderr

    api = bootstrap.api_client(kubeconfig)
    try:
        body: Any = {"metadata": {"name": "kept"}, "data": {"k": "v"}}
        client.CoreV1Api(api).create_namespaced_config_map("default", body)
    finally:
        api.close()

    down = hardened("dev", "down", "--dir", str(plane_dir))
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith(f"stopped kube-apiserver (pid {records[1].pid}), etcd")
    _assert_all_gone(plane_dir, records)

    after = hardened("dev", "status", "--dir", str(plane_dir))
    assert after.returncode == 1
    assert "not ready" in after.stdout
    twice = hardened("dev", "down", "--dir", str(plane_dir))
    assert twice.returncode == 0
    assert "stopped nothing" in twice.stdout

    # Up again on the same directory: same etcd data, fresh processes.
    again = hardened("dev", "up", "--dir", str(plane_dir), "--no-operator", "--no-build")
    assert again.returncode == 0, again.stderr
    api = bootstrap.api_client(kubeconfig)
    try:
        kept = client.CoreV1Api(api).read_namespaced_config_map("kept", "default")
        assert kept.data == {"k": "v"}
    finally:
        api.close()
    restarted = _records(plane_dir)
    assert {r.pid for r in restarted}.isdisjoint(r.pid for r in records)
    assert hardened("dev", "down", "--dir", str(plane_dir)).returncode == 0
    _assert_all_gone(plane_dir, restarted)


def test_kubectl_from_the_assets_works_with_the_written_kubeconfig(plane_dir: Path) -> None:
    kubectl = assets.require_assets().kubectl
    if kubectl is None:
        if controlplane.required():  # CI builds kubectl with the assets: this must run there
            pytest.fail("these assets carry no kubectl (KUBEBUILDER_ASSETS without it)")
        pytest.skip("these assets carry no kubectl (KUBEBUILDER_ASSETS without it)")
    up = hardened("dev", "up", "--dir", str(plane_dir), "--no-operator", "--no-build")
    assert up.returncode == 0, up.stderr
    env = {**os.environ, "KUBECONFIG": str(plane_dir / "kubeconfig")}
    version = subprocess.run(
        [str(kubectl), "version", "-o", "json"], env=env, capture_output=True, text=True
    )
    assert version.returncode == 0, version.stderr
    reported = json.loads(version.stdout)
    assert reported["serverVersion"]["gitVersion"] == assets.KUBERNETES_VERSION
    assert reported["clientVersion"]["gitVersion"] == assets.KUBERNETES_VERSION
    crds = subprocess.run(
        [str(kubectl), "get", "crd", "-o", "name"], env=env, capture_output=True, text=True
    )
    assert "customresourcedefinition.apiextensions.k8s.io/hardenedservices.ai-system.io" in (
        crds.stdout
    ), crds.stderr


def _dry_run(api: Any, namespace: str, pod: dict[str, Any]) -> int:
    return _dry_run_with_warnings(api, namespace, pod)[0]


def _dry_run_with_warnings(api: Any, namespace: str, pod: dict[str, Any]) -> tuple[int, str]:
    try:
        # The client validates a plain dict into the model; its annotation names only the model.
        _, status, headers = client.CoreV1Api(api).create_namespaced_pod_with_http_info(
            namespace,
            pod,  # type: ignore[arg-type]
            dry_run="All",
        )
    except ApiException as error:
        return int(error.status), ""
    return int(status), str((headers or {}).get("Warning", ""))


def _namespace(api: Any, name: str, mode: str | None) -> str:
    bootstrap.create_namespace(api, name, {"ai-system.io/enforce": mode} if mode else None)
    bootstrap.ensure_service_account(api, name)
    return name


@pytest.mark.parametrize("admission", ["webhook", "operator"])
def test_up_serves_admission_then_down_stops_it(plane_dir: Path, admission: str) -> None:
    up = hardened("dev", "up", "--dir", str(plane_dir), "--admission", admission, "--no-build")
    assert up.returncode == 0, up.stderr
    assert f"admission: {admission}" in up.stdout
    records = _records(plane_dir)
    assert [r.name for r in records] == ["etcd", "kube-apiserver", admission]

    api = bootstrap.api_client(plane_dir / "kubeconfig")
    try:
        assert _dry_run(api, "default", ROOT_POD) == 403
        assert _dry_run(api, "default", NON_ROOT_POD) == 201
        # kube-system is never matched: a broken webhook cannot block its recovery.
        bootstrap.ensure_service_account(api, "kube-system")
        assert _dry_run(api, "kube-system", ROOT_POD) == 201
        # The namespace label picks the mode; unknown values enforce (fail closed).
        assert _dry_run(api, _namespace(api, "apps", None), ROOT_POD) == 403
        assert _dry_run(api, _namespace(api, "typo", "enforced"), ROOT_POD) == 403
        assert _dry_run(api, _namespace(api, "legacy", "disabled"), ROOT_POD) == 201
        assert _dry_run(api, _namespace(api, "audited", "audit"), ROOT_POD) == 201
        status, warning = _dry_run_with_warnings(api, _namespace(api, "warned", "warn"), ROOT_POD)
        assert status == 201
        assert "runAsUser" in warning, warning
    finally:
        api.close()

    down = hardened("dev", "down", "--dir", str(plane_dir))
    assert down.returncode == 0, down.stderr
    _assert_all_gone(plane_dir, records)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_up_stops_what_it_started(plane_dir: Path, signum: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    up = subprocess.Popen(
        [sys.executable, "-m", "hardened_operator.cli", "dev", "up", "--dir", str(plane_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state = plane_dir / "state.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # interrupt once etcd and kube-apiserver run
        if state.exists() and "kube-apiserver" in state.read_text():
            break
        time.sleep(0.05)
    else:
        up.kill()
        pytest.fail(f"dev up never started kube-apiserver: {up.communicate()}")
    up.send_signal(signum)
    _, stderr = up.communicate(timeout=120)
    assert up.returncode != 0, "an interrupted `dev up` must not report success"
    _assert_all_gone(plane_dir, _records(plane_dir))
    assert "control plane ready" not in stderr


# ---- status says how to recover; restart does it ------------------------------------------


def _refused(directory: Path) -> str:
    api = bootstrap.api_client(directory / "kubeconfig")
    core: Any = client.CoreV1Api(api)
    try:
        core.create_namespaced_pod("default", ROOT_POD, dry_run="All")
    except ApiException as error:
        return str(error.body)
    finally:
        api.close()
    return "admitted"


def test_a_killed_operator_is_named_with_its_fix_and_restart_brings_admission_back(
    plane_dir: Path,
) -> None:
    up = hardened("dev", "up", "--dir", str(plane_dir))
    assert up.returncode == 0, up.stderr
    [operator] = [r for r in _records(plane_dir) if r.name == "operator"]
    os.kill(operator.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.is_running(operator) and time.monotonic() < deadline:
        time.sleep(0.1)

    status = hardened("dev", "status", "--dir", str(plane_dir))
    assert status.returncode == 1
    assert (
        f"operator is stopped; to recover: hardened dev restart operator --dir {plane_dir}"
        in status.stdout
    )
    assert "failed calling webhook" in _refused(plane_dir)  # fail closed while it is gone

    restarted = hardened("dev", "restart", "operator", "--dir", str(plane_dir))
    assert restarted.returncode == 0, restarted.stderr
    [again] = [r for r in _records(plane_dir) if r.name == "operator"]
    assert again.pid != operator.pid and processes.is_running(again)
    assert hardened("dev", "status", "--dir", str(plane_dir)).returncode == 0
    refusal = _refused(plane_dir)
    assert "denied the request" in refusal and "runAsUser" in refusal

    etcd = hardened("dev", "restart", "etcd", "--dir", str(plane_dir))
    assert etcd.returncode == 2  # not a choice: click names the ones it can restart
    assert "operator" in etcd.stderr
