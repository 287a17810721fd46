"""``hardened audit --cluster`` without a cluster: each namespace's mode from the routing the
webhook registration uses, the options, and an API server that does not answer."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hardened_operator.audit.cluster import (
    ClusterAudit,
    expression_matches,
    namespace_mode,
)
from hardened_operator.conventions import ENFORCE_LABEL
from hardened_operator.dev.manifests import mode_label_conditions
from hardened_operator.errors import PolicyError
from tests.audit.audit_support import invoke
from tests.audit.cluster_support import run_hardened

CONDITIONS = mode_label_conditions()
EXEMPT = frozenset({"kube-system", "hardened-system"})


@pytest.mark.parametrize(
    ("labels", "mode"),
    [
        ({}, "enforce"),  # no label: enforce, as the registration routes it
        ({ENFORCE_LABEL: "enforce"}, "enforce"),
        ({ENFORCE_LABEL: "Warn"}, "enforce"),  # unknown values enforce (fail closed)
        ({ENFORCE_LABEL: ""}, "enforce"),
        ({ENFORCE_LABEL: "warn"}, "warn"),
        ({ENFORCE_LABEL: "audit"}, "audit"),
        ({ENFORCE_LABEL: "disabled"}, "disabled"),
        ({"other": "warn"}, "enforce"),
    ],
)
def test_mode_follows_the_registrations_label_conditions(labels: dict[str, str], mode: str) -> None:
    assert namespace_mode("shop", labels, CONDITIONS, EXEMPT) == mode


def test_exempt_namespaces_are_exempt_whatever_their_label() -> None:
    labels = {ENFORCE_LABEL: "enforce"}
    assert namespace_mode("kube-system", labels, CONDITIONS, EXEMPT) == "exempt"
    assert namespace_mode("kube-system-evil", labels, CONDITIONS, EXEMPT) == "enforce"


def test_unreadable_labels_are_unknown_not_a_guess() -> None:
    assert namespace_mode("shop", None, CONDITIONS, EXEMPT) == "unknown"


def test_when_several_conditions_match_the_strictest_mode_wins() -> None:
    everything = {mode: {"key": "x", "operator": "DoesNotExist"} for mode in CONDITIONS}
    assert namespace_mode("shop", {}, everything, frozenset()) == "enforce"


def test_selector_operators_have_kubernetes_semantics() -> None:
    assert expression_matches({"key": "k", "operator": "Exists"}, {"k": ""})
    assert not expression_matches({"key": "k", "operator": "Exists"}, {})
    assert expression_matches({"key": "k", "operator": "NotIn", "values": ["a"]}, {})
    assert not expression_matches({"key": "k", "operator": "In", "values": ["a"]}, {})
    with pytest.raises(PolicyError):
        expression_matches({"key": "k", "operator": "Gt", "values": ["1"]}, {"k": "2"})


def test_an_unread_list_makes_the_report_partial_and_exit_2() -> None:
    audit = ClusterAudit("nonroot")
    audit.add_unread(
        "/apis/apps/v1/namespaces/shop/deployments", "deployments.apps", "Deployment", "shop",
        "HTTP 403: forbidden",
    )  # fmt: skip
    assert audit.partial and audit.report.exit_code == 2
    rows = audit.summaries({"shop": {}}, CONDITIONS, EXEMPT, ENFORCE_LABEL)
    assert [(r.name, r.unread, r.objects) for r in rows] == [("shop", ("deployments.apps",), 0)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster", "deploy.yaml"], "give no PATH"),
        (["--cluster", "--fix"], "--fix rewrites files"),
        (["--cluster", "-n", "a", "-A"], "exclude each other"),
        (["-n", "shop", "deploy.yaml"], "--namespace needs --cluster"),
        (["-A", "deploy.yaml"], "--all-namespaces needs --cluster"),
        (["--exempt-namespace", "x", "deploy.yaml"], "--exempt-namespace needs --cluster"),
        (["--mode-label", "team/mode", "deploy.yaml"], "--mode-label needs --cluster"),
        ([], "give a PATH"),
    ],
)
def test_options_that_do_not_go_together_are_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_api_server_is_a_clear_error_and_exit_2(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{_closed_port()}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: x, cluster: {{server: '{server}', "
        "insecure-skip-tls-verify: true}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: x, user: u, namespace: shop}}]\n"
    )
    result = run_hardened("audit", "--cluster", "--kubeconfig", str(kubeconfig))
    assert result.returncode == 2
    assert f"cannot reach the API server at {server}" in result.stderr
    assert "nothing was audited" in result.stderr
    assert result.stdout == ""


def test_a_missing_kubeconfig_is_a_clear_error_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = run_hardened("audit", "--cluster", "--kubeconfig", str(missing))
    assert result.returncode == 2
    assert f"cannot use kubeconfig {missing}" in result.stderr
