"""What the chart's NOTES say about admission matches what it installs: with the webhook off,
"the in-process policy still refuses root pods" only when a ValidatingAdmissionPolicy is
rendered, and "root pods are NOT refused" only when nothing that judges pods is."""

from __future__ import annotations

import pytest
import yaml

from tests.support.chart import render_files


def kinds(templates: dict[str, str]) -> set[str]:
    return {
        doc["kind"]
        for name, text in templates.items()
        if name.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    }


@pytest.mark.parametrize(
    ("enforced_by", "profile"),
    [
        ("policy", "nonroot"),
        ("both", "nonroot:allow-root-group"),
        ("webhook", "nonroot"),
        ("policy", "restricted"),
    ],
)
def test_webhook_off_notes_say_what_still_refuses_root_pods(enforced_by: str, profile: str) -> None:
    values = {"webhook": {"enabled": False, "profile": profile}}
    templates = render_files({**values, "admission": {"enforcedBy": enforced_by}})
    notes = templates["templates/NOTES.txt"]
    installed = kinds(templates)
    assert "ValidatingWebhookConfiguration" not in installed
    if "ValidatingAdmissionPolicy" in installed:
        assert "still refuses root pods" in notes and "NOT refused" not in notes
    else:
        assert "root pods are NOT refused" in notes and "still refuses" not in notes
    policy_expected = enforced_by in ("policy", "both") and profile.startswith("nonroot")
    assert ("ValidatingAdmissionPolicy" in installed) == policy_expected
