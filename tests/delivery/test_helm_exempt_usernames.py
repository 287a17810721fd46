"""webhook.exemptUsernames: the same exact names reach the webhook (the operator's
--exempt-username) and the in-process policy (its matchConditions, exactly as
`hardened policies --exempt-username` writes them); none by default."""

from __future__ import annotations

from typing import Any

import yaml

from hardened_operator.inprocess.policy import policy_spec
from tests.support.chart import render_files

USERS = ["system:serviceaccount:ci:deployer", 'odd "quoted" user', "a: b #c", "alice"]


def policy(templates: dict[str, str]) -> dict[str, Any]:
    docs = yaml.safe_load_all(templates["templates/validatingadmissionpolicy.yaml"])
    return next(d for d in docs if d and d["kind"] == "ValidatingAdmissionPolicy")


def operator_args(templates: dict[str, str]) -> list[str]:
    deployment = yaml.safe_load(templates["templates/deployment.yaml"])
    return [str(a) for a in deployment["spec"]["template"]["spec"]["containers"][0]["args"]]


def test_no_exempt_user_by_default() -> None:
    templates = render_files({})
    assert policy(templates)["spec"] == policy_spec("nonroot")
    assert not any(a.startswith("--exempt-username") for a in operator_args(templates))


def test_exempt_usernames_reach_the_policy_and_the_webhook_alike() -> None:
    for profile in ("nonroot", "nonroot:allow-root-group"):
        templates = render_files({"webhook": {"exemptUsernames": USERS, "profile": profile}})
        assert policy(templates)["spec"] == policy_spec(profile, USERS)
        args = operator_args(templates)
        assert sorted(a for a in args if a.startswith("--exempt-username=")) == sorted(
            f"--exempt-username={user}" for user in USERS
        )
