"""webhook.exemptUsernames: the same exact names reach the webhook (the operator's
--exempt-username) and the in-process policy (its matchConditions, exactly as
`hardened policies --exempt-username` writes them); none by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from hardened_operator.inprocess.policy import policy_spec

CHART = Path(__file__).parents[2] / "helm" / "hardened-operator"
USERS = ["system:serviceaccount:ci:deployer", 'odd "quoted" user', "a: b #c", "alice"]


def render(values: dict[str, Any]) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="h", namespace="hardened-system", is_install=True)
    return {path.split("/", 1)[1]: text for path, text in rendered.items()}


def policy(templates: dict[str, str]) -> dict[str, Any]:
    docs = yaml.safe_load_all(templates["templates/validatingadmissionpolicy.yaml"])
    return next(d for d in docs if d and d["kind"] == "ValidatingAdmissionPolicy")


def operator_args(templates: dict[str, str]) -> list[str]:
    deployment = yaml.safe_load(templates["templates/deployment.yaml"])
    return [str(a) for a in deployment["spec"]["template"]["spec"]["containers"][0]["args"]]


def test_no_exempt_user_by_default() -> None:
    templates = render({})
    assert policy(templates)["spec"] == policy_spec("nonroot")
    assert not any(a.startswith("--exempt-username") for a in operator_args(templates))


def test_exempt_usernames_reach_the_policy_and_the_webhook_alike() -> None:
    for profile in ("nonroot", "nonroot:allow-root-group"):
        templates = render({"webhook": {"exemptUsernames": USERS, "profile": profile}})
        assert policy(templates)["spec"] == policy_spec(profile, USERS)
        args = operator_args(templates)
        assert sorted(a for a in args if a.startswith("--exempt-username=")) == sorted(
            f"--exempt-username={user}" for user in USERS
        )
