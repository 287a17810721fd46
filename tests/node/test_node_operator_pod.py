"""The operator as a pod: its own image, `helm install` on the real node, admission through
its Service, one reconciler among two replicas, and HardenedServices that become pods."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
from kubernetes.client.exceptions import ApiException

from hardened_operator.conventions import ENFORCE_LABEL
from hardened_operator.dev import node, node_assets
from hardened_operator.dev import plane as plane_module
from hardened_operator.k8s import bootstrap
from tests.node.admission_load import COMPLIANT_POD, AdmissionLoad
from tests.node.node_support import (
    NodeCluster,
    apps_api,
    core_api,
    create_hsvc,
    refusal_of_root_pod,
    running_pod,
    sample_service,
    user_namespace,
    wait_for,
    wait_ready,
)
from tests.support import controlplane

pytestmark = pytest.mark.node

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "hardened-operator"
IMAGE_REPOSITORY = "localhost/hardened-operator"
VERSION = "0.1.0"
NAMESPACE = "hardened-system"
RELEASE = "hardened-operator"
DRILL_NUMBERS = Path(os.environ.get("HARDENED_DRILL_LOG", "/tmp/hardened-admission-drills.txt"))
"""Where the measured numbers go (copied into docs/benchmarks.md by hand)."""


def _fail_or_skip(reason: str) -> None:
    if controlplane.required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def operator_image() -> Path:
    """The image built from Dockerfile.production by scripts/build-image.sh (cached)."""
    if os.geteuid() != 0:
        _fail_or_skip("building and loading the image needs root")
    result = subprocess.run(
        ["bash", "scripts/build-image.sh"], cwd=REPO, capture_output=True, text=True, timeout=1800
    )
    archive = REPO / "build" / f"hardened-operator-{VERSION}.oci.tar"
    if result.returncode != 0 or not archive.is_file():
        _fail_or_skip(f"scripts/build-image.sh failed:\n{result.stderr[-3000:]}")
    return archive


@pytest.fixture(scope="module")
def bare_node(operator_image: Path) -> Iterator[NodeCluster]:
    """A node with no operator on the host: the chart brings it, as in a user's cluster."""
    directory = Path(tempfile.mkdtemp(prefix="hardened-opnode-"))
    try:
        started = plane_module.start(
            plane_module.Options(directory=directory, operator=False, tie_to_parent=True, node=True)
        )
    except Exception as error:
        shutil.rmtree(directory, ignore_errors=True)
        _fail_or_skip(f"the local node did not start: {error}")
        raise
    controlplane._install_cleanup(started.stop)
    cluster = NodeCluster(started)
    try:
        loaded = subprocess.run(
            [*_hardened(), "dev", "load-image", "--dir", str(directory), str(operator_image)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert loaded.returncode == 0, loaded.stderr
        yield cluster
    finally:
        started.stop()
        if os.environ.get("HARDENED_KEEP_CONTROL_PLANE") != "1":
            shutil.rmtree(directory, ignore_errors=True)


def _hardened() -> list[str]:
    import sys

    return [sys.executable, "-m", "hardened_operator.cli"]


_HELM: dict[str, Any] = {}
# The webhook judges pods here (not the chart's default, the in-process policy): these tests
# follow a review through the webhook's Service to the operator's pods, and its absence.
WEBHOOK_ENFORCES: dict[str, Any] = {"admission": {"enforcedBy": "webhook"}}


@pytest.fixture(scope="module")
def installed(bare_node: NodeCluster) -> Iterator[NodeCluster]:
    config = helm.Config(kubeconfig_path=bare_node.plane.kubeconfig, namespace=NAMESPACE)
    values = {"image": {"repository": IMAGE_REPOSITORY, "tag": VERSION}, **WEBHOOK_ENFORCES}
    config.install(CHART, RELEASE, values, namespace=NAMESPACE, create_namespace=True, timeout=300)
    _HELM["config"] = config
    api = bare_node.api_client()
    try:
        _wait_rollout(api, VERSION)
        yield bare_node
    finally:
        api.close()
        config.uninstall(RELEASE, ignore_not_found=True)
        config.close()


def _wait_rollout(api: Any, tag: str, timeout: float = 240) -> None:
    """Until exactly two replicas, both Ready, run ``tag`` and nothing else is left."""

    def done() -> bool:
        pods = _operator_pods(api)
        return len(pods) == 2 and all(
            p.status.container_statuses
            and p.status.container_statuses[0].ready
            and p.spec.containers[0].image.endswith(f":{tag}")
            for p in pods
        )

    wait_for(done, timeout, f"two Ready operator replicas running {tag}")


def _current_tag(api: Any) -> str:
    deployment = apps_api(api).read_namespaced_deployment(RELEASE, NAMESPACE)
    return str(deployment.spec.template.spec.containers[0].image.rsplit(":", 1)[1])


def _operator_pods(api: Any) -> list[Any]:
    pods = core_api(api).list_namespaced_pod(
        NAMESPACE, label_selector="app.kubernetes.io/name=hardened-operator"
    )
    return [p for p in pods.items if p.metadata.deletion_timestamp is None]


def test_both_replicas_run_as_1000_from_the_locally_built_image(installed: NodeCluster) -> None:
    api = installed.api_client()
    pods = _operator_pods(api)
    assert len(pods) == 2
    for pod in pods:
        assert pod.status.phase == "Running"
        [status] = pod.status.container_statuses
        assert status.ready is True
        assert status.image.endswith(f"{IMAGE_REPOSITORY}:{VERSION}"), status.image
        uid = installed.kubectl(
            "-n", NAMESPACE, "exec", pod.metadata.name, "--", "python", "-c",
            "import os; print(os.getuid(), os.getgid())",
        )  # fmt: skip
        assert uid.stdout.split() == ["1000", "1000"]
        wrote = installed.kubectl(
            "-n", NAMESPACE, "exec", pod.metadata.name, "--", "python", "-c",
            "open('/opt/probe', 'w')", check=False,
        )  # fmt: skip
        assert wrote.returncode != 0 and "Read-only file system" in wrote.stderr


def _pod_rss(uid: str) -> int:
    """The pod's resident memory from its cgroup (cgroup v1 here; the kubelet's stats summary
    reports 0 for pods under a custom cgroup root on v1)."""
    marker = f"pod{uid}"
    for directory in Path("/sys/fs/cgroup/memory", node.CGROUP_ROOT).rglob(marker):
        for line in (directory / "memory.stat").read_text().splitlines():
            name, value = line.split()
            if name == "total_rss":
                return int(value)
    raise AssertionError(f"no memory cgroup for pod {uid}")


def test_operator_pod_memory_at_idle_is_within_its_request(installed: NodeCluster) -> None:
    api = installed.api_client()
    usage = {p.metadata.name: _pod_rss(p.metadata.uid) for p in _operator_pods(api)}
    assert len(usage) == 2, usage
    with DRILL_NUMBERS.open("a") as out:
        mib = ", ".join(f"{value / 2**20:.0f} MiB" for value in usage.values())
        out.write(f"operator pods at idle (cgroup total_rss): {mib}\n")
    for value in usage.values():
        assert 16 * 2**20 < value < 256 * 2**20  # a Python operator; the chart limits 512Mi


def _reconciling(log: str) -> bool:
    """Whether kopf's last peering decision in this log was to (re)start reconciling.

    kopf starts every peered operator paused and logs only changes: the replica that finds no
    peer of higher priority logs "Resuming operations"; one that finds a higher peer at once
    stays paused without a line, and one that resumed before its peer appeared logs "Pausing
    operations in favour of ...".
    """
    decisions = [
        line
        for line in log.splitlines()
        if "Pausing operations" in line or "Resuming operations" in line
    ]
    return bool(decisions) and "Resuming operations" in decisions[-1]


def test_exactly_one_replica_reconciles(installed: NodeCluster) -> None:
    api = installed.api_client()

    def states() -> list[bool] | None:
        logs = [
            installed.kubectl("-n", NAMESPACE, "logs", p.metadata.name).stdout
            for p in _operator_pods(api)
        ]
        reconciling = [_reconciling(text) for text in logs]
        return reconciling if sorted(reconciling) == [False, True] else None

    try:
        wait_for(states, 120, "exactly one of the two replicas reconciling (kopf peering)")
    except AssertionError as error:
        tails = "\n---\n".join(
            installed.kubectl("-n", NAMESPACE, "logs", p.metadata.name).stdout[-3000:]
            for p in _operator_pods(api)
        )
        raise AssertionError(f"{error}\n{tails}") from None


def test_the_api_server_calls_the_webhook_through_its_service(installed: NodeCluster) -> None:
    api = installed.api_client()
    refusal = refusal_of_root_pod(api, user_namespace(api, "apps"))
    assert "hardened-operator" in refusal and "runAsUser" in refusal


def test_a_hardenedservice_applied_after_the_install_runs(installed: NodeCluster) -> None:
    api = installed.api_client()
    bootstrap.create_namespace(api, "served")
    create_hsvc(api, "served", sample_service("web"))
    wait_ready(api, "served", "web", timeout=240)
    pod = running_pod(api, "served", "web")
    assert installed.exec("served", pod, "id -u").stdout.strip() == "1000"


def rbac_api(api: Any) -> Any:
    from kubernetes import client

    return client.RbacAuthorizationV1Api(api)


def test_helm_test_proves_root_pods_are_refused_and_fails_where_they_are_not(
    installed: NodeCluster,
) -> None:
    """The chart's test hook runs `hardened verify` from the operator's image in a Pod."""
    api = installed.api_client()
    user_namespace(api, "default")  # the chart's tests.namespaces; wait for its ServiceAccount
    result = _HELM["config"].test(RELEASE, timeout=180, logs=True)
    assert 'ENFORCED in namespace "default"' in str(result["logs"]), result
    # The same test where the namespace only warns: a root pod would be admitted, and it fails.
    patch = {"metadata": {"labels": {ENFORCE_LABEL: "warn"}}}
    core_api(api).patch_namespace("default", patch)
    try:
        with pytest.raises(helm.HelmReleaseError):
            _HELM["config"].test(RELEASE, timeout=180, logs=True)
        # It failed for the right reason: the kept Pod's log says so.
        log = core_api(api).read_namespaced_pod_log(f"{RELEASE}-verify", NAMESPACE)
        assert 'NOT ENFORCED in namespace "default"' in log, log
        # Its create-pods rights did not outlive the failed run.
        roles = rbac_api(api).list_namespaced_role("default").items
        assert f"{RELEASE}-verify" not in [r.metadata.name for r in roles]
    finally:
        core_api(api).patch_namespace("default", {"metadata": {"labels": {ENFORCE_LABEL: None}}})
    # Its ServiceAccount, Role and RoleBinding are test hooks, gone after a passing run.
    _HELM["config"].test(RELEASE, timeout=180)
    accounts = core_api(api).list_namespaced_service_account(NAMESPACE).items
    assert f"{RELEASE}-verify" not in [a.metadata.name for a in accounts]


# ---- admission that stays up --------------------------------------------------------------
# Each drill runs a steady 20 compliant dry-run pod creations a second through the API server
# (tests/node/admission_load.py) and counts every one that is not admitted.


def _load_namespace(cluster: NodeCluster) -> str:
    return user_namespace(cluster.api_client(), "load")


def _record(drill: str, load: AdmissionLoad, extra: str = "") -> None:
    result = load.result
    line = (
        f"{drill}: attempted {result.attempted}, admitted {result.admitted}, "
        f"failed {result.failed} {dict(result.failures)} {extra}"
    )
    print(line)
    with DRILL_NUMBERS.open("a") as out:
        out.write(line + "\n")


def test_kill_9_of_one_replica_under_load_fails_closed_for_a_bounded_window(
    installed: NodeCluster,
) -> None:
    # Not zero: the API server does not retry an admission webhook call, and until the kubelet
    # has seen the container die and the endpoint is gone (about a second), calls routed to
    # the dead replica are refused. What must hold: every failure is a refusal (fail closed),
    # inside that window, and the survivor admits everything else.
    api = installed.api_client()
    namespace = _load_namespace(installed)
    with AdmissionLoad(installed.plane.kubeconfig, namespace) as load:
        time.sleep(5)
        killed_at = time.monotonic() - load.started
        victim = _operator_pods(api)[0]
        container = victim.status.container_statuses[0].container_id.split("//", 1)[1]
        killed = subprocess.run(
            [
                str(node_assets.require_node_assets().path("ctr")), "--address",
                str(node.CONTAINERD_SOCKET), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL",
                container,
            ],
            capture_output=True, text=True,
        )  # fmt: skip
        assert killed.returncode == 0, killed.stderr

        def restarted_and_ready() -> bool:
            pod = core_api(api).read_namespaced_pod(victim.metadata.name, NAMESPACE)
            [status] = pod.status.container_statuses
            return bool(status.restart_count >= 1 and status.ready)

        wait_for(restarted_and_ready, 120, "the killed replica back and Ready")
        time.sleep(5)
    times = load.result.failure_times
    window = (max(times) - min(times)) if times else 0.0
    _record("kill -9 of one replica", load, f"failures within {window:.1f} s of each other")
    assert load.result.attempted >= 200
    assert all("failed calling webhook" in reason for reason in load.result.failures)
    assert all(killed_at <= t <= killed_at + 5 for t in times), (killed_at, times)
    assert load.result.failed <= 5 * 20 * 0.5  # at most half the traffic of a 5 s window


def test_helm_upgrade_to_a_new_image_under_load(installed: NodeCluster) -> None:
    api = installed.api_client()
    namespace = _load_namespace(installed)
    tagged = subprocess.run(
        [
            str(node_assets.require_node_assets().path("ctr")), "--address",
            str(node.CONTAINERD_SOCKET), "-n", "k8s.io", "images", "tag", "--force",
            f"{IMAGE_REPOSITORY}:{VERSION}", f"{IMAGE_REPOSITORY}:{VERSION}-next",
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    assert tagged.returncode == 0, tagged.stderr
    values = {
        "image": {"repository": IMAGE_REPOSITORY, "tag": f"{VERSION}-next"},
        **WEBHOOK_ENFORCES,
    }
    with AdmissionLoad(installed.plane.kubeconfig, namespace) as load:
        time.sleep(3)
        _HELM["config"].upgrade(CHART, RELEASE, values, namespace=NAMESPACE, timeout=300)
        _wait_rollout(api, f"{VERSION}-next")
        time.sleep(5)
    _record("helm upgrade to a new image", load)
    assert load.result.attempted >= 200
    assert load.result.failed == 0, dict(load.result.failures)


def test_certificate_rotation_in_a_rolling_update_under_load(installed: NodeCluster) -> None:
    # --certs-renew-before-days 400 makes every starting replica rotate (pairs last 365 days):
    # the rolling update puts old, rotated and re-rotated replicas side by side, each serving
    # a pair signed by a different CA.
    api = installed.api_client()
    namespace = _load_namespace(installed)
    secret_name = f"{RELEASE}-webhook-tls"
    before = core_api(api).read_namespaced_secret(secret_name, NAMESPACE).data["ca.crt"]
    deployment = apps_api(api).read_namespaced_deployment(RELEASE, NAMESPACE)
    args = [*deployment.spec.template.spec.containers[0].args, "--certs-renew-before-days=400"]
    tag = deployment.spec.template.spec.containers[0].image.rsplit(":", 1)[1]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "operator", "args": args}]}}}}
    with AdmissionLoad(installed.plane.kubeconfig, namespace) as load:
        time.sleep(3)
        apps_api(api).patch_namespaced_deployment(RELEASE, NAMESPACE, patch)

        def rolled() -> bool:
            pods = _operator_pods(api)
            return len(pods) == 2 and all(
                "--certs-renew-before-days=400" in p.spec.containers[0].args
                and p.status.container_statuses
                and p.status.container_statuses[0].ready
                for p in pods
            )

        wait_for(rolled, 240, "both replicas rolled with the rotating setting")
        time.sleep(5)
    secret = core_api(api).read_namespaced_secret(secret_name, NAMESPACE).data
    import base64

    previous = base64.b64decode(secret["previous-ca.crt"])
    config = installed.kubectl(
        "get", "validatingwebhookconfiguration", RELEASE, "-o",
        "jsonpath={.webhooks[0].clientConfig.caBundle}",
    ).stdout  # fmt: skip
    trusted = base64.b64decode(config)
    _record(
        "certificate rotation (rolling update, every replica rotates)",
        load,
        f"CAs trusted after: {trusted.count(b'BEGIN CERTIFICATE')}",
    )
    assert secret["ca.crt"] != before  # it did rotate
    assert base64.b64decode(before) in previous  # and recorded what it replaced
    assert load.result.attempted >= 200
    assert load.result.failed == 0, dict(load.result.failures)
    assert tag


def test_zz_with_both_replicas_gone_pods_are_refused_naming_the_webhook(
    installed: NodeCluster,
) -> None:
    api = installed.api_client()
    namespace = _load_namespace(installed)
    apps_api(api).patch_namespaced_deployment_scale(RELEASE, NAMESPACE, {"spec": {"replicas": 0}})
    wait_for(lambda: not _operator_pods(api), 120, "both replicas gone")

    def refusal() -> str | None:
        try:
            core_api(api).create_namespaced_pod(namespace, COMPLIANT_POD, dry_run="All")
        except ApiException as error:
            return str(error.body)
        return None

    message = wait_for(refusal, 60, "admission to fail closed")
    assert "failed calling webhook" in message
    assert "hardened-operator" in message  # the webhook's name says whose it is

    apps_api(api).patch_namespaced_deployment_scale(RELEASE, NAMESPACE, {"spec": {"replicas": 2}})
    started = time.monotonic()
    wait_for(lambda: refusal() is None, 240, "admission to work again")
    recovery = time.monotonic() - started
    with DRILL_NUMBERS.open("a") as out:
        out.write(f"both replicas gone: refused with {message[:200]!r}; admission back "
                  f"{recovery:.1f} s after scaling to 2\n")  # fmt: skip
    _wait_rollout(api, _current_tag(api))
