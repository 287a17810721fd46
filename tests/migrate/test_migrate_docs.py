"""docs/migrate.md shows real output: its examples are compared with what the commands print."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.migrate.migrate_support import DOCS_EXAMPLES, ORG_ARGS, PREFIX, REPO, hardened

DOC = (REPO / "docs" / "migrate.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def converted() -> tuple[list[dict[str, object]], str]:
    run = hardened(
        "convert",
        "--namespace",
        "ai-system",
        "--image-prefix",
        PREFIX,
        str(DOCS_EXAMPLES / "docker-compose.yml"),
    )
    assert run.exit_code == 0, run.stderr
    return list(yaml.safe_load_all(run.stdout)), run.stderr


def test_documented_hardened_service_is_the_real_first_object() -> None:
    documents, _ = converted()
    shown = [yaml.safe_load(b) for b in blocks("yaml") if "kind: HardenedService" in b]
    assert shown == [documents[0]]


def test_documented_stderr_is_the_real_stderr() -> None:
    _, stderr = converted()
    (shown,) = [b for b in blocks("text") if "unmappable" in b]
    assert shown.strip() == stderr.strip()


def test_documented_compose_excerpt_matches_the_example_file() -> None:
    example = (DOCS_EXAMPLES / "docker-compose.yml").read_text(encoding="utf-8")
    (excerpt,) = [b for b in blocks("yaml") if b.startswith("services:")]
    for line in excerpt.splitlines():
        if not line.lstrip().startswith("#"):
            assert line in example.splitlines(), line


def test_documented_fixed_dockerfile_is_the_real_output() -> None:
    run = hardened("dockerfile", "fix", *ORG_ARGS, str(DOCS_EXAMPLES / "Dockerfile"))
    assert run.exit_code == 1  # the kept USER root: lint --profile hardened's HF003
    (shown,) = blocks("dockerfile")
    assert run.stdout.endswith(shown)
    assert "by hand: line 8: kept USER root: RUN at line(s) 10, 15 may need root" in run.stderr


def test_documented_lint_lines_are_real(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the docs show a path relative to the repository
    run = hardened("dockerfile", "lint", *ORG_ARGS, "docs/examples/migrate/Dockerfile")
    assert run.exit_code == 1
    (shown,) = [b for b in blocks("console") if "HF005" in b]
    for line in shown.splitlines():
        if line.startswith("docs/examples/"):
            assert line in run.stdout.splitlines(), line


def test_every_rule_is_documented() -> None:
    from hardened_operator.migrate import RULES

    for rule, (name, _) in RULES.items():
        assert f"| {rule} | {name} |" in DOC
