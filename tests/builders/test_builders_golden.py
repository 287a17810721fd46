"""Golden files: what each documented example renders to, byte for byte.

A change to the builders shows up as a reviewable diff of these files. Regenerate on purpose:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/builders/test_builders_golden.py

Never in CI: with CI=true set, UPDATE_GOLDEN makes the test fail instead of writing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hardened_operator.cli.render import render_text

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples" / "hardenedservice"
GOLDEN = Path(__file__).resolve().parent / "golden"
VALID_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("invalid-"))


def _updating() -> bool:
    if os.environ.get("UPDATE_GOLDEN") != "1":
        return False
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("UPDATE_GOLDEN=1 is refused in CI: golden files are reviewed, not regenerated")
    return True


def test_there_are_examples_to_render() -> None:
    assert len(VALID_EXAMPLES) >= 4


@pytest.mark.parametrize("example", VALID_EXAMPLES, ids=lambda p: p.stem)
def test_example_renders_to_its_golden_file(example: Path) -> None:
    rendered = render_text([(example.name, example.read_text(encoding="utf-8"))])
    golden = GOLDEN / f"{example.stem}.yaml"
    if _updating():
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(rendered, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; create it with UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8")


def test_no_orphan_golden_files() -> None:
    expected = {f"{p.stem}.yaml" for p in VALID_EXAMPLES}
    assert {p.name for p in GOLDEN.glob("*.yaml")} == expected
