"""Gaps found in review (reviewer-A) of `hardened dockerfile lint/fix`.

"Lint: last USER of the final stage root, `0`, `root:root`, `0:0`, or missing": BuildKit
expands USER's argument as a shell word (quotes removed) and the runtime parses numeric ids
with Go's strconv.Atoi (a sign is accepted), so `USER "0"`, `USER 'root'` and `USER +0` all
run as root. The lint used to pass them; the fix left them in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_migrate_hadolint import final_stage_dl3002, hadolint

from hardened_operator.migrate.dockerfile import fix_dockerfile, lint_dockerfile
from hardened_operator.migrate.dockerfile_rules import is_root_user

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
    assert [f.rule for f in lint_dockerfile(source)] == ["HF001"]
    fixed = fix_dockerfile(source).text
    assert lint_dockerfile(fixed) == []
    assert fixed.splitlines()[-1] == "USER 1000:1000"
    assert f"USER {user}" not in fixed
    assert fix_dockerfile(fixed).text == fixed  # idempotent


@pytest.mark.parametrize("user", NON_ROOT_SPELLINGS)
def test_non_root_user_is_left_alone(user: str) -> None:
    source = f"{COMPLIANT_REST}USER {user}\n"
    assert lint_dockerfile(source) == []
    assert fix_dockerfile(source).text == source


def test_fixed_quoted_root_raises_no_dl3002(tmp_path: Path) -> None:
    source = 'FROM python:3.11\nUSER "0"\n'
    fixed = fix_dockerfile(source).text
    assert final_stage_dl3002(fixed, hadolint(tmp_path, fixed)) == []
