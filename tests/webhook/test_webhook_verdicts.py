"""The verdicts (``webhook/admission.py`` ``Verdict``, the label of
``hardened_webhook_decisions_total``): each one is reachable, and docs/webhook.md lists
exactly them. That the code produces no other is mypy's job (``Decision.verdict`` is the
Literal)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hardened_operator.policy import Violation
from hardened_operator.webhook import WebhookConfig, evaluate_review
from hardened_operator.webhook.admission import VERDICTS
from tests.webhook.webhook_support import COMPLIANT_POD_SPEC, pod, review, root_pod_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhook.md"
CONFIG = WebhookConfig()


def _crashing_reviewer(obj: Mapping[str, Any], profile: str) -> list[Violation]:
    raise RuntimeError("bug in a check")


def test_every_verdict_is_reachable() -> None:
    root, compliant = pod(root_pod_spec()), pod(COMPLIANT_POD_SPEC)
    reached = {
        "allow": evaluate_review(review(compliant), CONFIG),
        "deny": evaluate_review(review(root), CONFIG),
        "warn": evaluate_review(review(root), CONFIG, "warn"),
        "audit": evaluate_review(review(root), CONFIG, "audit"),
        "exempt": evaluate_review(review(root, namespace="kube-system"), CONFIG),
        "skip": evaluate_review(review(root, operation="DELETE"), CONFIG),
        "invalid": evaluate_review(review(root), CONFIG, "nonsense"),
        "error": evaluate_review(review(root), CONFIG, reviewer=_crashing_reviewer),
    }
    assert {wanted: d.verdict for wanted, d in reached.items()} == {v: v for v in reached}
    assert sorted(reached) == sorted(VERDICTS)


def test_the_doc_lists_the_verdicts() -> None:
    row = next(
        line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `hardened_webhook_decisions_total`")
    )
    listed = re.findall(r"`([a-z]+)`", row.split("`verdict` is", 1)[1])
    assert tuple(listed) == VERDICTS
