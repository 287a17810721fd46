"""``hardened verify`` against a real kube-apiserver: the in-process policy and the webhook.

The namespaces come from ``tests.policy.cel_plane.two_enforcers``: per enforcer, one per value
of the mode label and one exempt, each judged by that enforcer alone. Nothing a dry run sends
is stored: the test also checks that no probe Pod exists afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client

from hardened_operator.cli import main
from hardened_operator.k8s import bootstrap
from hardened_operator.probes import PROBE_LABEL
from tests.policy.cel_plane import SIDES, TwoEnforcers, two_enforcers

pytestmark = pytest.mark.controlplane


@pytest.fixture(scope="module")
def enforcers(control_plane: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    api = control_plane.api_client()
    try:
        with two_enforcers(api, tmp_path_factory.mktemp("verify")) as setup:
            yield setup
    finally:
        api.close()


def _verify(control_plane: Any, *args: str) -> Any:
    return CliRunner().invoke(
        main, ["verify", "--kubeconfig", str(control_plane.kubeconfig), *args]
    )


@pytest.mark.parametrize("side", SIDES)
def test_an_enforcing_namespace_is_proven(
    control_plane: Any, enforcers: TwoEnforcers, side: str
) -> None:
    for label in ("absent", "enforce"):
        namespace = enforcers.ns(side, label)
        result = _verify(control_plane, "-n", namespace)
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f'ENFORCED in namespace "{namespace}"'), result.output
        assert "runs as UID 0 (root)" in result.output  # the refusal is quoted
        pods = client.CoreV1Api(enforcers.api).list_namespaced_pod(
            namespace, label_selector=PROBE_LABEL
        )
        assert pods.items == []  # a dry run stores nothing


@pytest.mark.parametrize("side", SIDES)
@pytest.mark.parametrize(
    ("label", "says"),
    [
        ("warn", "only warned"),
        ("audit", "nothing refused it"),
        ("exempt", "nothing refused it"),
    ],
)
def test_a_namespace_that_admits_root_is_named(
    control_plane: Any, enforcers: TwoEnforcers, side: str, label: str, says: str
) -> None:
    namespace = enforcers.ns(side, label)
    result = _verify(control_plane, "-n", namespace)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f'NOT ENFORCED in namespace "{namespace}"'), result.output
    assert says in result.output


def test_one_namespace_admitting_root_fails_the_whole_run(
    control_plane: Any, enforcers: TwoEnforcers
) -> None:
    enforcing, warning = enforcers.ns("policy", "enforce"), enforcers.ns("webhook", "warn")
    result = _verify(control_plane, "-n", enforcing, "-n", warning)
    assert result.exit_code == 1, result.output
    assert f'ENFORCED in namespace "{enforcing}"' in result.output
    assert f'NOT ENFORCED in namespace "{warning}"' in result.output


def test_a_refusal_by_someone_else_proves_nothing(control_plane: Any, k8s_api: Any) -> None:
    # Pod Security Admission restricted refuses the root probe too - but it is not us.
    name = f"verify-psa-{uuid.uuid4().hex[:6]}"
    bootstrap.create_namespace(
        k8s_api, name, labels={"pod-security.kubernetes.io/enforce": "restricted"}
    )
    bootstrap.ensure_service_account(k8s_api, name)  # no controller makes it on this plane
    try:
        result = _verify(control_plane, "-n", name)
    finally:
        bootstrap.delete_namespace(k8s_api, name)
    assert result.exit_code == 2, result.output
    assert "not by hardened-operator" in result.output
    assert "PodSecurity" in result.output  # whoever refused is quoted


def test_a_missing_namespace_or_an_unreachable_server_cannot_show_anything(
    control_plane: Any, tmp_path: Any
) -> None:
    result = _verify(control_plane, "-n", f"missing-{uuid.uuid4().hex[:6]}")
    assert result.exit_code == 2, result.output
    assert "not found" in result.output
    kubeconfig = tmp_path / "nowhere.yaml"
    kubeconfig.write_text(
        control_plane.kubeconfig.read_text().replace(control_plane.server, "https://127.0.0.1:1")
    )
    result = CliRunner().invoke(main, ["verify", "--kubeconfig", str(kubeconfig), "-n", "x"])
    assert result.exit_code == 2, result.output
    assert "cannot reach the API server" in result.output
