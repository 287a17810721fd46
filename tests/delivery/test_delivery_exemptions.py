"""The operator exempts exactly the namespaces the chart's webhook configuration excludes."""

from __future__ import annotations

import pytest

from hardened_operator.cli._exemptions import exempt_namespaces
from tests.delivery.delivery_support import find, matching_webhooks, parse_operator_args
from tests.support.chart import render_objects


@pytest.mark.parametrize(
    "exempt",
    [None, [], ["monitoring"], ["kube-system", "kube-node-lease"]],
    ids=["default", "emptied", "monitoring-only", "kube-system+lease"],
)
def test_operator_exemptions_equal_the_webhook_exclusions(exempt: list[str] | None) -> None:
    """A namespace the API server sends to the webhook is reviewed by it, and vice versa:
    before, an emptied list left kube-system matched by the webhook configuration yet
    admitted unseen by the operator's built-in defaults."""
    values = {} if exempt is None else {"webhook": {"exemptNamespaces": exempt}}
    objs = render_objects(values, namespace="security")
    vwc = find(objs, "ValidatingWebhookConfiguration")
    container = find(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    params = parse_operator_args(container["args"])
    exempted = exempt_namespaces(
        params["operator_namespace"], params["exempt_namespaces"], params["no_default_exemptions"]
    )
    for namespace in ("kube-system", "kube-node-lease", "monitoring", "security", "team-a"):
        sent = bool(matching_webhooks(vwc, namespace, {}))
        assert sent == (namespace not in exempted), (namespace, sorted(exempted))


def test_manifests_operator_exemptions_equal_the_webhook_exclusions() -> None:
    from tests.delivery.delivery_support import manifest_objects

    objs = manifest_objects()
    vwc = find(objs, "ValidatingWebhookConfiguration")
    container = find(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    params = parse_operator_args(container["args"])
    exempted = exempt_namespaces(
        "hardened-system", params["exempt_namespaces"], params["no_default_exemptions"]
    )
    for namespace in ("kube-system", "hardened-system", "kube-node-lease", "team-a"):
        sent = bool(matching_webhooks(vwc, namespace, {}))
        assert sent == (namespace not in exempted), (namespace, sorted(exempted))
