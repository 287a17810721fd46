"""docs/install.md: every values block renders through the chart; every sample it names exists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from tests.delivery.delivery_support import REPO, find
from tests.support.chart import CHART, render_objects

DOC = REPO / "docs" / "install.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), flags=re.S)
VALUES_BLOCKS = [block for block in BLOCKS if block.startswith("# values:")]


def test_the_doc_has_values_examples() -> None:
    assert len(VALUES_BLOCKS) >= 3


@pytest.mark.parametrize("block", VALUES_BLOCKS, ids=lambda b: b.splitlines()[0])
def test_values_block_is_accepted_and_renders(block: str) -> None:
    values: dict[str, Any] = yaml.safe_load(block)
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(values))
    objs = render_objects(values)
    assert (
        find(objs, "Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 1000
    )


def test_every_file_the_doc_names_exists() -> None:
    named = set(re.findall(r"`((?:manifests|helm|docs)/[\w./-]+)`", DOC.read_text()))
    assert named
    missing = sorted(path for path in named if not (REPO / path.rstrip("/")).exists())
    assert missing == []


def test_kustomize_overlay_example_names_the_real_image() -> None:
    overlay = next(block for block in BLOCKS if block.startswith("# kustomization.yaml"))
    images = yaml.safe_load(overlay)["images"]
    deployment = (REPO / "manifests" / "04-deployment.yaml").read_text()
    assert all(f"image: {image['name']}:" in deployment for image in images)


def test_doc_commands_use_existing_paths() -> None:
    for path in re.findall(r"-f (manifests/[\w./-]+\.yaml)", DOC.read_text()):
        assert Path(REPO / path).exists(), path
