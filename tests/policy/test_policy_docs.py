"""docs/policy.md is exercised: its Python example runs, its example outputs are what the code
prints for the quoted fixtures, and its check table matches the registry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hardened_operator.policy import CHECKS
from hardened_operator.workloads import review_object

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "policy.md").read_text()
FIXTURES = Path(__file__).parent / "fixtures"

EXAMPLE = re.compile(r"<!-- example: (\S+) (\S+) -->\n```text\n(.*?)```", re.S)
TABLE_ROW = re.compile(r"^\| `([A-Za-z_]+)` \| (baseline|restricted|hardened) \| ([^|]+) \|", re.M)


def test_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.S)
    assert len(blocks) == 1
    exec(compile(blocks[0], "docs/policy.md", "exec"), {})  # asserts inside


def test_example_outputs_match_the_code() -> None:
    examples = EXAMPLE.findall(DOC)
    assert len(examples) >= 5
    for name, profile, text in examples:
        obj = yaml.safe_load((FIXTURES / name).read_text())
        lines = [v.describe() for v in review_object(obj, profile)]
        assert text.splitlines() == lines, name


def test_linked_fixture_files_exist() -> None:
    links = re.findall(r"\(\.\./(tests/policy/fixtures/[^)]+\.yaml)\)", DOC)
    assert links
    for link in links:
        assert (ROOT / link).is_file(), link


def test_check_table_matches_the_registry() -> None:
    rows = {check: (level, profiles.strip()) for check, level, profiles in TABLE_ROW.findall(DOC)}
    assert set(rows) == set(CHECKS)
    for check_id, check in CHECKS.items():
        level, profiles = rows[check_id]
        assert level == check.level, check_id
        expected = ", ".join(check.profiles) if check.profiles else "—"
        assert profiles == expected, check_id


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_override_is_documented(check_id: str) -> None:
    for overridden in CHECKS[check_id].overrides:
        assert f"overrides `{overridden}`" in DOC
