"""The chart's configRollouts switch: off, the operator may not list or watch ConfigMaps and
Secrets and runs without --config-rollouts; on, it gets exactly the grant the docs show and
the flag that uses it."""

from __future__ import annotations

import re

import yaml

from tests.delivery.delivery_support import cluster_role_grants, expand_rules, rbac_rules
from tests.support.chart import REPO, render_files

DOC = REPO / "docs" / "hardenedservice.md"


def operator_args(templates: dict[str, str]) -> list[str]:
    deployment = yaml.safe_load(templates["templates/deployment.yaml"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return [str(a) for a in container["args"]]


def documented_grant() -> set[tuple[str, ...]]:
    """The ClusterRole in docs/hardenedservice.md's Config rollouts section."""
    section = DOC.read_text().split("## Config rollouts", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "the section shows the grant"
    docs = [d for d in yaml.safe_load_all(block.group(1)) if d]
    return expand_rules(rbac_rules(docs, "ClusterRole"))


CONFIG_KINDS = {("", "configmaps"), ("", "secrets")}


def test_off_by_default_no_grant_on_configmaps_or_secrets_and_no_flag() -> None:
    off = render_files({})
    assert not {grant[:2] for grant in cluster_role_grants(off)} & CONFIG_KINDS
    assert "--config-rollouts" not in operator_args(off)


def test_on_adds_exactly_the_documented_grant_and_the_flag() -> None:
    off, on = render_files({}), render_files({"configRollouts": {"enabled": True}})
    added = cluster_role_grants(on) - cluster_role_grants(off)
    assert added == documented_grant()
    assert added == {(g, r, v) for g, r in CONFIG_KINDS for v in ("list", "watch")}
    assert "--config-rollouts" in operator_args(on)
