"""``hardened run`` as a user runs it: --kubeconfig is what kopf logs in with, /operatorz is
honest, /readyz (the readinessProbe) does not follow the API server, and --peering without its
object is refused with a clear message.

They run the operator as a subprocess against the shared control plane, like a user would.
"""

from __future__ import annotations

import base64
import contextlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.operator.operator_support import (
    create_hsvc,
    free_port,
    get_hsvc,
    hsvc,
    running_operator,
    wait_for,
)

pytestmark = pytest.mark.controlplane


def test_kubeconfig_flag_is_what_kopf_logs_in_with(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    # $KUBECONFIG points nowhere: only the flag can get kopf's watches to the plane.
    env = {**control_plane.env(), "KUBECONFIG": str(tmp_path / "nowhere.yaml")}
    flag = ("--kubeconfig", str(control_plane.kubeconfig))
    with running_operator(env, namespace, tmp_path, *flag) as op:
        create_hsvc(k8s_api, hsvc("kc", namespace))
        wait_for(
            "the HardenedService reconciled through kopf's watch",
            lambda: (
                (get_hsvc(k8s_api, namespace, "kc").get("status") or {}).get("observedGeneration")
                == 1
            ),
            timeout=60,
        )
        assert "LoginError" not in op.logs()


def _unreachable_kubeconfig(control_plane: Any, tmp_path: Path) -> Path:
    config = yaml.safe_load(Path(control_plane.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path = tmp_path / "unreachable.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_operatorz_stays_503_while_kopf_cannot_log_in(
    control_plane: Any, namespace: str, tmp_path: Path
) -> None:
    """Our own client reaches the plane, kopf's login cannot: the reconciler is not ready
    (/operatorz), yet the process is alive."""
    import os
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    health = free_port()
    env = {**control_plane.env(), "PYTHONUNBUFFERED": "1"}
    # kopf logs in with KUBECONFIG from its environment when --kubeconfig is absent; the
    # unreachable copy keeps it from connecting while everything else is real.
    env["KUBECONFIG"] = str(_unreachable_kubeconfig(control_plane, tmp_path))
    log = tmp_path / "op.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hardened_operator.cli", "run", "--namespace", namespace,
             "--no-webhook", "--health-listen", f"127.0.0.1:{health}"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def get(path: str) -> int | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{health}{path}", timeout=5) as r:
                return int(r.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return None

    try:
        wait_for("the health server", lambda: get("/healthz") == 200, timeout=30)
        seen = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and process.poll() is None:
            seen.append(get("/operatorz"))
            time.sleep(0.5)
        assert seen and 200 not in seen, (seen, log.read_text()[-3000:])
        assert get("/healthz") == 200
    finally:
        if process.poll() is None:
            os.kill(process.pid, 15)
            process.wait(timeout=20)


class _Proxy:
    """A TCP forwarder to the API server that the test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket
        import threading

        self.target, self.open = target, threading.Event()
        self.open.set()
        self._conns: list[Any] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        import socket

        self.open.clear()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._conns.clear()

    def close(self) -> None:
        self.cut()
        self._listener.close()


def _review_root_pod(op: Any, namespace: str, ca_file: Path) -> dict[str, Any]:
    """POST an AdmissionReview for a root Pod to the operator's webhook, as the API server
    would (trusting the CA the operator generated and stored in its Secret)."""
    import requests

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {
            "runAsUser": 0}}]},
    }  # fmt: skip
    review: dict[str, Any] = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b5a3c1e-0000-4000-8000-000000000001",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": pod,
        },
    }
    response = requests.post(op.webhook_url, json=review, verify=str(ca_file), timeout=5)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()["response"]
    return answer


def test_readyz_stays_ready_through_an_api_blip_and_operatorz_follows_it(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    """/readyz is the readinessProbe of the webhook Service's pods: with failurePolicy Fail,
    dropping every replica during an API blip would refuse every reviewed request. Admission
    needs no API access, so /readyz stays 200 and the webhook keeps answering while the API is
    unreachable; /operatorz and the api_reachable gauge say the reconciler is cut off (kopf's
    ready flag stays set: it must not be the only signal), and recover when it is back.
    Liveness stays 200 throughout: restarting the pod would not bring the API back."""
    import time
    from urllib.parse import urlsplit

    config = yaml.safe_load(Path(control_plane.kubeconfig).read_text())
    target = urlsplit(config["clusters"][0]["cluster"]["server"])
    proxy = _Proxy((target.hostname or "127.0.0.1", target.port or 443))
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://{target.hostname}:{proxy.port}"
    via_proxy = tmp_path / "via-proxy.yaml"
    via_proxy.write_text(yaml.safe_dump(config))
    env = {**control_plane.env(), "KUBECONFIG": str(via_proxy)}
    try:
        with running_operator(env, namespace, tmp_path, webhook=True) as op:
            assert op.metrics()["hardened_operator_api_reachable"] == 1
            secret = client.CoreV1Api(k8s_api).read_namespaced_secret(
                "hardened-operator-webhook-tls", namespace
            )
            ca_file = tmp_path / "ca.crt"
            ca_file.write_bytes(base64.b64decode((secret.data or {})["ca.crt"]))
            proxy.cut()
            wait_for("/operatorz 503 without the API", lambda: op.get("/operatorz")[0] == 503, 30)
            status, text = op.get("/operatorz")
            assert status == 503 and "API server" in text, text
            wait_for(
                "the gauge at 0",
                lambda: op.metrics()["hardened_operator_api_reachable"] == 0,
                10,
            )
            assert op.metrics()["hardened_operator_reconciler_ready"] == 0
            # Still cut off, for a while: ready throughout, and admission answers.
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                assert op.get("/readyz")[0] == 200
                assert op.get("/healthz")[0] == 200
                time.sleep(0.5)
            # (for another namespace: the operator's own is never reviewed)
            answer = _review_root_pod(op, "shop", ca_file)
            assert answer["allowed"] is False and "runAsUser" in str(answer["status"])
            assert op.get("/operatorz")[0] == 503  # the check above ran without the API
            proxy.open.set()
            wait_for("/operatorz 200 with the API back", lambda: op.get("/operatorz")[0] == 200, 30)
            assert op.metrics()["hardened_operator_api_reachable"] == 1
    finally:
        proxy.close()


@pytest.mark.parametrize("scope", ["namespaced", "cluster"])
def test_peering_without_its_object_is_refused_with_a_clear_message(
    control_plane: Any, namespace: str, scope: str
) -> None:
    """kopf itself would pause every watch (no CRD) or let all replicas reconcile (no object)."""
    import subprocess
    import sys

    where = ["--namespace", namespace] if scope == "namespaced" else ["--all-namespaces"]
    result = subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", "run", *where, "--no-webhook",
         "--health-listen", f"127.0.0.1:{free_port()}", "--peering", "no-such-peering"],
        env=control_plane.env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    kind = "KopfPeering" if scope == "namespaced" else "ClusterKopfPeering"
    crd_file = (
        "01-kopf-namespaced-peering-crd.yaml"
        if scope == "namespaced"
        else "01-kopf-peering-crd.yaml"
    )
    assert f"{kind} 'no-such-peering'" in result.stderr, result.stderr[-2000:]
    assert crd_file in result.stderr and "Traceback" not in result.stderr
