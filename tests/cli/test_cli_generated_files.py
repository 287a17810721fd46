"""``--check FILE`` / ``-o FILE``, shared by the commands that print a generated file
(``hardened crd``, ``hardened policies``; ``cli/_io.py`` ``check_generated``): what ``-o``
writes passes ``--check``; a stale copy fails with exit 1, a diff and the command that
regenerates it -- and that command, run as printed, makes the copy current again."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from hardened_operator.cli import main

COMMANDS = {
    "crd": ["crd"],
    "policies": ["policies", "--profile", "nonroot"],
    "policies --chart": ["policies", "--chart"],
}


def _hardened(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_written_copy_passes_check(command: list[str], tmp_path: Path) -> None:
    copy = tmp_path / "generated.yaml"
    written = _hardened(*command, "-o", str(copy))
    assert written.exit_code == 0, written.output
    checked = _hardened(*command, "--check", str(copy))
    assert checked.exit_code == 0, checked.output
    assert checked.stderr == f"{copy} is up to date\n"


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_stale_copy_fails_with_a_diff_and_the_command_that_regenerates_it(
    command: list[str], tmp_path: Path
) -> None:
    copy = tmp_path / "generated.yaml"
    assert _hardened(*command, "-o", str(copy)).exit_code == 0
    lines = copy.read_text(encoding="utf-8").splitlines(keepends=True)
    removed = lines.pop(len(lines) // 2)
    copy.write_text("".join(lines), encoding="utf-8")

    stale = _hardened(*command, "--check", str(copy))
    assert stale.exit_code == 1
    assert f"--- {copy}\n+++ generated\n" in stale.stderr
    assert f"\n+{removed}" in stale.stderr  # the line the copy lacks, as the diff adds it
    last = stale.stderr.splitlines()[-1]
    regenerate = f"hardened {shlex.join(command)} -o {copy}"
    assert last == f"error: {copy} is stale; regenerate with: {regenerate}"

    # The printed command, run as printed, makes the copy current.
    assert _hardened(*shlex.split(regenerate)[1:]).exit_code == 0
    assert _hardened(*command, "--check", str(copy)).exit_code == 0


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_missing_copy_is_bad_input_not_stale(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = _hardened(*command, "--check", str(missing))
    assert result.exit_code == 2
    assert "no such file" in result.stderr and "stale" not in result.stderr


def test_both_commands_offer_the_same_options() -> None:
    from hardened_operator.cli.crd import crd
    from hardened_operator.cli.policies import policies

    def options(command: click.Command) -> list[tuple[object, ...]]:
        return [
            (p.name, tuple(p.opts), p.type.to_info_dict(), getattr(p, "help", None))
            for p in command.params
            if p.name in ("check_file", "output")
        ]

    assert options(crd) == options(policies)
    assert [name for name, *_ in options(crd)] == ["check_file", "output"]
