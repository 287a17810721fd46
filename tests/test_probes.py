"""``probes``: what the API server's answers to the two dry-run probes show (pure, table-driven)."""

from __future__ import annotations

import pytest

from hardened_operator import probes
from hardened_operator.policy.checks.run_as_user import ROOT_MESSAGE
from hardened_operator.workloads import review_object

OURS = f'admission webhook "enforce.hardened-operator.ai-system.io" denied the request: hardened-operator policy "nonroot": 1 violation: spec.containers[0].securityContext.runAsUser: container "runs-as-root" {ROOT_MESSAGE}'  # noqa: E501
PSA = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsUser=0 (container "runs-as-root" must not set runAsUser=0)'  # noqa: E501
OUTAGE = 'Internal error occurred: failed calling webhook "enforce.hardened-operator.ai-system.io": connection refused'  # noqa: E501
RBAC = 'pods is forbidden: User "system:serviceaccount:t:verify" cannot create resource "pods"'
ADMITTED = probes.Answer(201, "")
WARNED = probes.Answer(
    201, "", (f'hardened-operator (warn): container "runs-as-root" {ROOT_MESSAGE}',)
)


@pytest.mark.parametrize(
    ("root", "compliant", "outcome", "says"),
    [
        (probes.Answer(403, OURS), ADMITTED, "enforced", "ENFORCED"),
        (
            probes.Answer(422, f"ValidatingAdmissionPolicy 'x' denied request: {ROOT_MESSAGE}"),
            ADMITTED,
            "enforced",
            "ENFORCED",
        ),
        (ADMITTED, ADMITTED, "not-enforced", "nothing refused it"),
        (WARNED, ADMITTED, "not-enforced", "only warned"),
        (probes.Answer(403, PSA), ADMITTED, "unknown", "not by hardened-operator"),
        (probes.Answer(500, OUTAGE), probes.Answer(500, OUTAGE), "unknown", "not by"),
        (probes.Answer(403, RBAC), probes.Answer(403, RBAC), "unknown", "not by"),
        (
            probes.Answer(404, 'namespaces "gone" not found'),
            probes.Answer(404, ""),
            "unknown",
            "not by",
        ),
        (
            probes.Answer(403, OURS),
            probes.Answer(403, "exceeded quota"),
            "unknown",
            "compliant pod was refused too",
        ),
    ],
    ids=[
        "webhook",
        "policy",
        "admitted",
        "warn-mode",
        "psa",
        "outage",
        "rbac",
        "no-namespace",
        "everything-refused",
    ],
)
def test_answers_show_enforcement_only_when_ours_refused_root_and_admitted_compliant(
    root: probes.Answer, compliant: probes.Answer, outcome: str, says: str
) -> None:
    verdict = probes.judge("team", root, compliant)
    assert verdict.outcome == outcome
    assert says in verdict.lines[0] or says in "\n".join(verdict.lines)
    assert 'namespace "team"' in verdict.lines[0]


def test_a_root_pod_admitted_anywhere_decides_then_doubt() -> None:
    assert probes.overall(["enforced", "not-enforced", "unknown"]) == "not-enforced"
    assert probes.overall(["enforced", "unknown"]) == "unknown"
    assert probes.overall(["enforced", "enforced"]) == "enforced"
    assert probes.overall([]) == "unknown"  # nothing asked shows nothing
    assert [probes.exit_code(o) for o in ("enforced", "not-enforced", "unknown")] == [0, 1, 2]


@pytest.mark.parametrize("profile", ["nonroot", "nonroot:allow-root-group", "restricted"])
def test_the_root_probe_fails_exactly_the_runAsUser_check_and_the_compliant_one_nothing(
    profile: str,
) -> None:
    root = review_object(probes.root_probe(), profile)  # type: ignore[arg-type]
    assert {v.check for v in root} == {"runAsUser"}
    assert all(ROOT_MESSAGE in v.message for v in root)
    assert review_object(probes.compliant_probe(), profile) == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "text"),
    [
        ('299 - "plain"', "plain"),
        ('299 - "with \\"quotes\\" inside"', 'with "quotes" inside'),
        ("not a warning header", "not a warning header"),
    ],
)
def test_warning_headers_are_unquoted(header: str, text: str) -> None:
    assert probes.warning_text(header) == text
