"""Gaps found in review (reviewer-A) of `hardened dockerfile lint/fix` and `hardened convert`.

"Lint: last USER of the final stage root, `0`, `root:root`, `0:0`, or missing": BuildKit
expands USER's argument as a shell word (quotes removed) and the runtime parses numeric ids
with Go's strconv.Atoi (a sign is accepted), so `USER "0"`, `USER 'root'` and `USER +0` all
run as root. The lint used to pass them; the fix left them in place.

"exit codes ... 2 (unreadable input, with file ...)": a compose file that is a YAML alias bomb
used to run for minutes (every alias expanded while interpolating), and absurd nesting
crashed with a RecursionError traceback. Both are now exit 2 naming the file, quickly.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from migrate_support import hardened, org_fix, org_lint
from test_migrate_hadolint import final_stage_dl3002, hadolint

from hardened_operator.migrate.dockerfile_rules import is_root_user, root_group

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


def _alias_bomb(levels: int = 8) -> str:
    lines = ['x-0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"x-{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    lines += ["services:", "  svc:", "    image: x", f"    command: *l{levels}"]
    return "\n".join(lines) + "\n"


def _nested(depth: int) -> str:
    return f"services:\n  svc:\n    image: x\n    command: {'[' * depth}{']' * depth}\n"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (_alias_bomb(), "YAML aliases"),
        (_nested(100), "nested more than"),
        (_nested(5000), "nested too deeply"),
    ],
    ids=["alias bomb", "nested 100", "nested 5000"],
)
def test_hostile_compose_files_exit_2_quickly(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    start = time.monotonic()
    run = hardened("convert", str(path))
    assert run.exit_code == 2, run.stderr
    assert str(path) in run.stderr and phrase in run.stderr, run.stderr
    assert run.stdout == ""
    assert time.monotonic() - start < 10


def test_a_real_sized_file_with_aliases_still_converts(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(_alias_bomb(levels=2))  # 729 values after expansion: fine
    assert hardened("convert", str(path)).exit_code == 0
