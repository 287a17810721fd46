"""Which cluster a connection reaches (k8s.client.load_configuration, shared by the operator
and `hardened audit --cluster`): inside a pod the in-cluster account, unless a kubeconfig or
a context is named -- a context is a kubeconfig entry, never the pod's own cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config as kconfig

from hardened_operator.k8s.client import load_configuration

IN_CLUSTER_HOST = "https://in-cluster.invalid:443"


def kubeconfig(path: Path) -> Path:
    def cluster(name: str) -> dict[str, Any]:
        return {"name": name, "cluster": {"server": f"https://{name}.example:6443"}}

    def context(name: str) -> dict[str, Any]:
        return {"name": name, "context": {"cluster": name, "user": "u"}}

    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster("dev"), cluster("prod")],
                "contexts": [context("dev"), context("prod")],
                "current-context": "dev",
                "users": [{"name": "u", "user": {"token": "t"}}],
            }
        )
    )
    return path


@pytest.fixture
def in_a_pod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A pod's view: the in-cluster account works, and a ~/.kube/config exists too."""

    def in_cluster(client_configuration: Any) -> None:
        client_configuration.host = IN_CLUSTER_HOST

    monkeypatch.setattr(kconfig, "load_incluster_config", in_cluster)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    home = kubeconfig(tmp_path / "config")
    monkeypatch.setattr(kconfig.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(home))
    return home


def test_in_a_pod_without_flags_the_in_cluster_account(in_a_pod: Path) -> None:
    assert load_configuration().host == IN_CLUSTER_HOST


def test_in_a_pod_a_context_reaches_that_context_not_the_pods_cluster(in_a_pod: Path) -> None:
    assert load_configuration(context="prod").host == "https://prod.example:6443"


def test_in_a_pod_an_unknown_context_fails_instead_of_using_the_pods_cluster(
    in_a_pod: Path,
) -> None:
    with pytest.raises(kconfig.ConfigException):
        load_configuration(context="staging")


def test_an_explicit_kubeconfig_wins_over_the_in_cluster_account(
    in_a_pod: Path, tmp_path: Path
) -> None:
    other = kubeconfig(tmp_path / "other")
    assert load_configuration(str(other)).host == "https://dev.example:6443"
