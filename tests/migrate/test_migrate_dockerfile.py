"""``hardened dockerfile lint|fix``: rules, minimal edits, idempotence, CLI behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardened_operator.migrate.dockerfile import _without_world_write
from hardened_operator.migrate.dockerfile_rules import is_root_user, is_world_writable, root_group
from hardened_operator.migrate.dockerfile_syntax import parse
from tests.migrate.migrate_support import (
    DOCKERFILES,
    DOCS_EXAMPLES,
    FIXTURES,
    ORG_ARGS,
    hardened,
    is_subsequence,
    org_fix,
    org_lint,
)
from tests.migrate.test_migrate_hadolint import final_stage_dl3002, hadolint

ALL = [*sorted(DOCKERFILES.glob("*.Dockerfile")), DOCS_EXAMPLES / "Dockerfile"]


def read(path: Path) -> str:
    return path.read_bytes().decode()


def rules_of(source: str) -> set[str]:
    return {finding.rule for finding in org_lint(source)}


# What lint finds in each fixture, and what may legitimately remain after fix (and why).
LINT_TABLE = {
    # USER root is kept: after the rebase, RUN pip install no longer runs as root by default.
    "seed.Dockerfile": (
        {"HF001", "HF004", "HF005", "HF006", "HF007", "HF008"},
        {"HF003"},
    ),
    "multistage.Dockerfile": ({"HF001", "HF005", "HF006", "HF008"}, set()),
    "arg-from.Dockerfile": ({"HF002", "HF005", "HF006", "HF007", "HF008"}, set()),
    "heredoc.Dockerfile": ({"HF001", "HF004", "HF005", "HF006", "HF008"}, set()),
    "escape-crlf.Dockerfile": ({"HF001", "HF005", "HF006", "HF008"}, set()),
    # The root switch is kept because RUN apt-get after it needs root: reported, not removed.
    "root-needed.Dockerfile": ({"HF001", "HF005", "HF006"}, {"HF003"}),
    # Built FROM another stage: rebasing that stage is left to a human.
    "from-stage.Dockerfile": ({"HF005", "HF006", "HF008"}, {"HF008"}),
    "no-user.Dockerfile": ({"HF002"}, set()),
    "nonroot.Dockerfile": (set(), set()),
}


@pytest.mark.parametrize("name", sorted(LINT_TABLE))
def test_lint_finds_exactly_the_expected_rules(name: str) -> None:
    before, after = LINT_TABLE[name]
    source = read(DOCKERFILES / name)
    assert rules_of(source) == before
    assert rules_of(org_fix(source).text) == after


def test_lint_line_numbers_point_at_the_offending_instruction() -> None:
    findings = org_lint(read(DOCKERFILES / "seed.Dockerfile"), file="seed")
    located = {(f.rule, f.line) for f in findings}
    assert {("HF001", 5), ("HF007", 10), ("HF004", 13), ("HF008", 2)} <= located
    assert ("HF003", 5) not in located  # the last USER is HF001's, not reported twice
    heredoc = org_lint(read(DOCKERFILES / "heredoc.Dockerfile"))
    assert sorted(f.line for f in heredoc if f.rule == "HF004") == [6, 16]


@pytest.mark.parametrize(
    ("user", "root"),
    [
        ("root", True),
        ("0", True),
        ("root:root", True),
        ("0:0", True),
        ("00", True),
        ("root:1000", True),
        (None, True),  # unresolvable: fail closed
        ("1000", False),
        ("1000:0", False),  # runAsNonRoot is about the UID
        ("ai", False),
        ("ai:ai", False),
    ],
)
def test_root_users(user: str | None, root: bool) -> None:
    assert is_root_user(user) is root


@pytest.mark.parametrize(
    ("mode", "writable", "safe"),
    [
        ("777", True, "775"),
        ("0777", True, "0775"),
        ("1777", True, "1775"),
        ("666", True, "664"),
        ("776", True, "774"),
        ("775", False, None),
        ("755", False, None),
        ("a+rwx", True, "ug+rwx,o+rx"),
        ("ugo+rwx", True, "ug+rwx,o+rx"),
        ("o+w", True, ""),
        ("+w", True, "ug+w"),
        ("o=rwx", True, "o=rx"),
        ("u+w", False, None),
        ("g+w", False, None),
        ("o-w", False, None),
        ("u+x,o+w", True, "u+x"),
    ],
)
def test_world_writable_modes(mode: str, writable: bool, safe: str | None) -> None:
    assert is_world_writable(mode) is writable
    if safe is not None:
        assert _without_world_write(mode) == safe
        assert safe == "" or not is_world_writable(safe)


@pytest.mark.parametrize(
    ("run", "fixed"),
    [
        ("chmod -R 777 /app/logs", "chown -R 1000:1000 /app/logs && chmod -R 775 /app/logs"),
        (
            "chmod --recursive a+rwx /a /b",
            "chown --recursive 1000:1000 /a /b && chmod --recursive ug+rwx,o+rx /a /b",
        ),
        ("mkdir x && chmod 777 x; ls", "mkdir x && chown 1000:1000 x && chmod 775 x; ls"),
        ("chmod o+w /data", "chown 1000:1000 /data"),
    ],
)
def test_chmod_777_becomes_ownership_by_the_app_user(run: str, fixed: str) -> None:
    source = f"FROM ai_system/base:1.0\nRUN {run}\nUSER 1000\n"
    result = org_fix(source)
    assert f"RUN {fixed}\n" in result.text
    assert "HF004" not in rules_of(result.text)


def test_chmod_inside_find_exec_is_reported_not_rewritten() -> None:
    source = "FROM ai_system/base:1.0\nRUN find /app -type d -exec chmod 777 {} +\nUSER 1000\n"
    result = org_fix(source)
    assert "-exec chmod 777 {} +" in result.text
    assert any("chmod 777" in line and "by hand" in line for line in result.manual)


def test_builder_stages_are_never_touched() -> None:
    for path in ALL:
        source = read(path)
        dockerfile = parse(source)
        assert dockerfile.final is not None
        cut = dockerfile.final.from_instruction.start
        assert org_fix(source).text[:cut] == source[:cut], path.name


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_fix_is_idempotent(path: Path) -> None:
    once = org_fix(read(path)).text
    twice = org_fix(once)
    assert twice.text == once
    assert not twice.changed


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name)
def test_fix_only_touches_the_lines_it_means_to(path: Path) -> None:
    """Every original line survives verbatim unless it is one of the fix's targets."""
    source = read(path)
    dockerfile = parse(source)
    final = dockerfile.final
    assert final is not None
    targets = {final.from_instruction.line}
    for instruction in final.instructions:
        if instruction.keyword in ("USER", "WORKDIR", "RUN"):
            targets.update(range(instruction.line, instruction.end_line + 1))
    kept = [line for n, line in enumerate(source.splitlines(), 1) if n not in targets]
    fixed = org_fix(source).text.splitlines()
    assert is_subsequence(kept, fixed), path.name
    # Every new line is a rebased FROM, a chmod turned chown, or an appended instruction.
    original = set(source.splitlines())
    for line in fixed:
        if line not in original:
            assert line.startswith(("FROM ", "VOLUME ", "LABEL ", "HEALTHCHECK ", "USER ")) or (
                "chown" in line
            ), (path.name, line)


def test_seed_dockerfile_matches_the_reviewed_expected_output() -> None:
    fixed = org_fix(read(DOCKERFILES / "seed.Dockerfile"))
    assert fixed.text == read(FIXTURES / "expected" / "seed.Dockerfile")
    assert any("kept USER root" in line for line in fixed.manual)


def test_crlf_files_stay_crlf() -> None:
    fixed = org_fix(read(DOCKERFILES / "escape-crlf.Dockerfile")).text
    assert fixed.count("\n") == fixed.count("\r\n") > 5


def test_existing_non_root_user_is_kept_and_labelled_as_itself() -> None:
    source = read(DOCKERFILES / "nonroot.Dockerfile")
    fixed = org_fix(source).text
    assert "USER 1001:1001\n" in fixed and "USER 1000" not in fixed
    wrong = source.replace('run-as-user="1001"', 'run-as-user="1000"')
    assert any('should be "1001"' in f.message for f in org_lint(wrong))


def test_named_non_root_user_is_accepted() -> None:
    source = (
        "FROM ai_system/base:1.0\n"
        'LABEL ai-system.io/security-profile="hardened" ai-system.io/non-root="true" '
        'ai-system.io/run-as-user="1000"\n'
        'HEALTHCHECK CMD ["true"]\nUSER ai\n'
    )
    assert rules_of(source) == set()
    assert "USER 1000:1000" not in org_fix(source).text


def test_unresolvable_user_fails_closed() -> None:
    source = "FROM ai_system/base:1.0\nUSER ${APP_USER}\n"
    assert "HF001" in rules_of(source)
    assert org_fix(source).text.endswith("USER 1000:1000\n")
    resolved = "FROM ai_system/base:1.0\nARG APP_USER=1000\nUSER ${APP_USER}\n"
    assert not {"HF001", "HF002"} & rules_of(resolved)


def test_healthcheck_none_is_a_decision_not_a_finding() -> None:
    assert "HF005" not in rules_of("FROM ai_system/base:1.0\nHEALTHCHECK NONE\nUSER 1000\n")


def test_other_base_is_flagged_but_not_rebased() -> None:
    result = org_fix("FROM ubuntu:24.04\nUSER root\n")
    assert result.text.startswith("FROM ubuntu:24.04\n")
    assert any("not python:*" in line for line in result.manual)
    # The standard HEALTHCHECK runs python: not added to an image that may lack it.
    assert "HEALTHCHECK" not in result.text
    assert any("HEALTHCHECK" in line for line in result.manual)
    assert rules_of(result.text) == {"HF005", "HF008"}
    custom = org_lint("FROM ubuntu:24.04\nUSER 1000\n", base="docker.io/library/ubuntu:24.04")
    assert "HF008" not in {f.rule for f in custom}


def test_file_without_trailing_newline_gets_one_before_the_appended_lines() -> None:
    fixed = org_fix('FROM python:3.11\nCMD ["python"]').text
    assert 'CMD ["python"]\nVOLUME' in fixed and fixed.endswith("USER 1000:1000\n")


# ---------------------------------------------------------------- CLI


def test_lint_cli_text_json_and_exit_codes(tmp_path: Path) -> None:
    seed = str(DOCKERFILES / "seed.Dockerfile")
    clean = str(DOCKERFILES / "nonroot.Dockerfile")
    text = hardened("dockerfile", "lint", *ORG_ARGS, seed, clean)
    assert text.exit_code == 1
    assert f"{seed}:5: HF001 final-user-root:" in text.stdout
    as_json = hardened("dockerfile", "lint", *ORG_ARGS, "--format", "json", seed)
    assert as_json.exit_code == 1
    entries = json.loads(as_json.stdout)
    assert {"file", "line", "rule", "name", "message"} <= set(entries[0])
    assert {e["rule"] for e in entries} == LINT_TABLE["seed.Dockerfile"][0]
    assert hardened("dockerfile", "lint", *ORG_ARGS, clean).exit_code == 0
    as_json = hardened("dockerfile", "lint", *ORG_ARGS, "--format", "json", clean)
    assert json.loads(as_json.stdout) == []
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM a\nRUN <<EOF\necho\n")
    run = hardened("dockerfile", "lint", str(broken))
    assert run.exit_code == 2 and f"{broken}:2:" in run.stderr
    assert hardened("dockerfile", "lint", str(tmp_path / "missing")).exit_code == 2


def test_lint_cli_base_option() -> None:
    path = str(DOCKERFILES / "nonroot.Dockerfile")
    run = hardened("dockerfile", "lint", "--base", "registry.example.com/base:2", path)
    assert run.exit_code == 1 and "HF008" in run.stdout


def test_fix_cli_stdout_and_in_place(tmp_path: Path) -> None:
    target = tmp_path / "Dockerfile"
    original = read(DOCKERFILES / "seed.Dockerfile")
    target.write_text(original)
    printed = hardened("dockerfile", "fix", *ORG_ARGS, str(target))
    # The kept USER root is what lint --profile hardened still reports: fix says so, exit 1.
    assert printed.exit_code == 1
    assert "lint --profile hardened still finds 1 finding(s)" in printed.stderr
    assert "HF003 user-root-in-final-stage" in printed.stderr
    assert printed.stdout == read(FIXTURES / "expected" / "seed.Dockerfile")
    assert "fixed: line 2: rebased python:3.11-slim" in printed.stderr
    assert "by hand: line 5: kept USER root" in printed.stderr
    assert read(target) == original  # stdout mode leaves the file alone
    in_place = hardened("dockerfile", "fix", *ORG_ARGS, "--in-place", str(target))
    assert in_place.exit_code == 1 and in_place.stdout == ""
    assert read(target) == printed.stdout
    custom = hardened(
        "dockerfile",
        "fix",
        "--profile",
        "hardened",
        "--base",
        "example.com/base:9",
        str(DOCKERFILES / "multistage.Dockerfile"),
    )
    assert "FROM example.com/base:9 AS runtime\n" in custom.stdout


def test_docs_example_dockerfile_is_fixed_as_documented() -> None:
    fixed = org_fix(read(DOCS_EXAMPLES / "Dockerfile"))
    assert "FROM ai_system/base:1.0\n" in fixed.text
    assert fixed.text.endswith("USER 1000:1000\n")
    assert rules_of(fixed.text) == {"HF003"}  # the kept USER root before pip install


def test_root_switch_before_a_non_root_user_is_hf003_only() -> None:
    source = "FROM ai_system/base:1.0\nUSER root\nRUN apt-get update\nUSER 1000\n"
    findings = [(f.rule, f.line) for f in org_lint(source)]
    assert ("HF003", 2) in findings
    assert not any(rule in ("HF001", "HF002") for rule, _ in findings)
    fixed = org_fix(source)
    assert "USER root\n" in fixed.text  # the RUN after it needs it
    assert fixed.text.count("USER 1000") == 1  # already non-root at the end: nothing appended


# USER's argument is a shell word (BuildKit removes quotes) and the runtime reads numeric ids
# with Go's strconv.Atoi (a sign is accepted): USER "0", USER 'root' and USER +0 all run as
# root, so lint flags them and fix replaces them.
#
# Everything but the USER line is already compliant, so HF001 is the only possible finding.
COMPLIANT_REST = (
    "FROM ai_system/base:1.0\n"
    'LABEL ai-system.io/security-profile="hardened" ai-system.io/non-root="true" '
    'ai-system.io/run-as-user="1000"\n'
    "HEALTHCHECK CMD true\n"
    'VOLUME ["/app/logs", "/app/data", "/app/models", "/app/cache"]\n'
)
ROOT_SPELLINGS = ['"0"', "'root'", '"0:0"', "'root':'root'", "+0", "-0", '"ro"ot', '"00"']
NON_ROOT_SPELLINGS = ['"1000"', "'ai'", "1000:1000", "0x0", "+1000", '"1000:0"']


@pytest.mark.parametrize("user", ROOT_SPELLINGS)
def test_quoted_or_signed_root_is_root(user: str) -> None:
    assert is_root_user(user)


@pytest.mark.parametrize("user", NON_ROOT_SPELLINGS)
def test_non_root_spellings_stay_non_root(user: str) -> None:
    assert not is_root_user(user)


@pytest.mark.parametrize("user", ROOT_SPELLINGS)
def test_lint_flags_and_fix_replaces_a_quoted_or_signed_root_user(user: str) -> None:
    source = f"{COMPLIANT_REST}USER {user}\n"
    assert [f.rule for f in org_lint(source)] == ["HF001"]
    fixed = org_fix(source).text
    assert org_lint(fixed) == []
    assert fixed.splitlines()[-1] == "USER 1000:1000"
    assert f"USER {user}" not in fixed
    assert org_fix(fixed).text == fixed  # idempotent


@pytest.mark.parametrize("user", [u for u in NON_ROOT_SPELLINGS if root_group(u) is None])
def test_non_root_user_is_left_alone(user: str) -> None:
    source = f"{COMPLIANT_REST}USER {user}\n"
    assert org_lint(source) == []
    assert org_fix(source).text == source


def test_fixed_quoted_root_raises_no_dl3002(tmp_path: Path) -> None:
    source = 'FROM python:3.11\nUSER "0"\n'
    fixed = org_fix(source).text
    assert final_stage_dl3002(fixed, hadolint(tmp_path, fixed)) == []
