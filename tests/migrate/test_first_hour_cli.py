"""A newcomer's first hour: every command, run as a user runs it — a real
``hardened`` process — reads ``-`` as standard input, writes ``-o FILE``, and turns bad input
(missing, a directory, not UTF-8, empty) into one ``error:`` line and exit 2, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.migrate.migrate_support import REPO

MINIMAL = REPO / "docs" / "examples" / "hardenedservice" / "minimal.yaml"
NOT_UTF8 = b"kind: HardenedService\nmetadata:\n  name: caf\xe9\n"


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str


def run(
    *args: str, stdin: bytes = b"", cwd: Path | None = None, env: dict[str, str] | None = None
) -> Ran:
    """``hardened ARGS`` in a child process, exactly as typed in a shell."""
    completed = subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    ran = Ran(
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


# ---------------------------------------------------------------- bad input, every command

BAD_INPUT = [
    pytest.param(["render"], id="render"),
    pytest.param(["convert"], id="convert"),
    pytest.param(["audit"], id="audit"),
    pytest.param(["dockerfile", "lint"], id="dockerfile-lint"),
    pytest.param(["dockerfile", "fix"], id="dockerfile-fix"),
]


@pytest.mark.parametrize("command", BAD_INPUT)
def test_not_utf8_is_one_error_line_naming_file_and_line(
    command: list[str], tmp_path: Path
) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(NOT_UTF8)
    ran = run(*command, str(bad))
    assert ran.code == 2
    said = ran.stderr + ran.stdout  # audit reports unreadable input in its table
    assert f"{bad}:3" in said and "not UTF-8" in said


@pytest.mark.parametrize("command", BAD_INPUT)
def test_missing_file_is_one_error_line(command: list[str], tmp_path: Path) -> None:
    ran = run(*command, str(tmp_path / "nope.yaml"))
    assert ran.code == 2
    said = ran.stderr + ran.stdout
    assert "nope.yaml" in said
    assert "no such file" in said
    assert "[Errno" not in said


@pytest.mark.parametrize("command", [c for c in BAD_INPUT if c.id != "audit"])
def test_a_directory_is_refused_by_file_commands(command: list[str], tmp_path: Path) -> None:
    ran = run(*command, str(tmp_path))
    assert ran.code == 2
    assert "directory" in ran.stderr
    assert "[Errno" not in ran.stderr


# ---------------------------------------------------------------- render


def test_render_empty_file_says_nothing_was_found(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    ran = run("render", str(empty))
    assert ran.code == 0
    assert ran.stdout == ""
    assert f"no HardenedService found in {empty}" in ran.stderr


def test_render_reads_stdin_and_writes_output_file(tmp_path: Path) -> None:
    out = tmp_path / "objects.yaml"
    ran = run("render", "-", "-o", str(out), stdin=MINIMAL.read_bytes())
    assert ran.code == 0, ran.stderr
    assert ran.stdout == ""
    assert "kind: Deployment" in out.read_text(encoding="utf-8")
    # The same bytes as printing to stdout.
    assert out.read_text(encoding="utf-8") == run("render", str(MINIMAL)).stdout


# ---------------------------------------------------------------- convert

COMPOSE = "services:\n  api:\n    image: registry.example.com/api:1\n"


def test_convert_reads_stdin(tmp_path: Path) -> None:
    ran = run("convert", "-", stdin=COMPOSE.encode(), cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert "kind: HardenedService" in ran.stdout
    assert "image: registry.example.com/api:1" in ran.stdout


def test_convert_stdin_errors_name_stdin_and_line(tmp_path: Path) -> None:
    ran = run("convert", "-", stdin=b"services:\n  api:\n    imag: x\n", cwd=tmp_path)
    assert ran.code == 1
    assert ran.stderr.startswith("error: <stdin>:2: service 'api' has neither image nor build")
    assert "<stdin>:3: unknown key imag — did you mean image?" in ran.stderr


def test_convert_writes_output_file(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(COMPOSE, encoding="utf-8")
    out = tmp_path / "hsvc.yaml"
    ran = run("convert", str(compose), "-o", str(out))
    assert ran.code == 0, ran.stderr
    assert ran.stdout == ""
    assert out.read_text(encoding="utf-8") == run("convert", str(compose)).stdout


def test_convert_typo_is_an_unknown_key_with_a_suggestion_and_a_line(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(
        COMPOSE + "    enviroment: {A: b}\n    frobnicate: 1\n    deploy: {replica: 2}\n",
        encoding="utf-8",
    )
    ran = run("convert", str(compose))
    assert ran.code == 0, ran.stderr
    lines = ran.stderr.splitlines()
    assert (
        f"api: unmappable: enviroment: unknown key — did you mean environment? ({compose}:4)"
        in lines
    )
    assert (
        f"api: unmappable: frobnicate: unknown key, not in the compose specification ({compose}:5)"
        in lines
    )
    assert any(
        line.startswith("api: unmappable: deploy.replica: unknown key — did you mean replicas?")
        for line in lines
    ), lines
    assert "has no equivalent" not in ran.stderr


def test_convert_messages_spell_values_as_yaml_not_python(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(
        COMPOSE
        + "    depends_on: {db: {condition: service_healthy}}\n"
        + "    privileged: true\n    networks: [front]\n",
        encoding="utf-8",
    )
    ran = run("convert", str(compose))
    assert ran.code == 0, ran.stderr
    assert "depends_on: {db: {condition: service_healthy}}:" in ran.stderr
    assert "privileged: true:" in ran.stderr
    assert "networks: [front]:" in ran.stderr
    for python_repr in ("{'", "['", "True", "None"):
        assert python_repr not in ran.stderr


def test_convert_runtime_nvidia_with_devices_is_reported(tmp_path: Path) -> None:
    compose = tmp_path / "compose.yml"
    compose.write_text(
        COMPOSE
        + "    runtime: nvidia\n"
        + "    deploy:\n      resources:\n        reservations:\n          devices:\n"
        + "            - {driver: nvidia, count: 2, capabilities: [gpu]}\n",
        encoding="utf-8",
    )
    ran = run("convert", str(compose))
    assert ran.code == 0, ran.stderr
    assert "count: 2" in ran.stdout
    assert "api: warning: runtime: nvidia: gpu.count 2 comes from the GPU requests" in ran.stderr


# ---------------------------------------------------------------- dockerfile lint|fix

DOCKERFILE_EXAMPLE = REPO / "docs" / "examples" / "migrate" / "Dockerfile"
NON_ROOT = b'FROM python:3.12-slim\nCOPY . /app\nUSER 1000:1000\nCMD ["python", "app.py"]\n'


def test_dockerfile_default_lint_is_about_root_not_one_organisation(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(NON_ROOT)
    ran = run("dockerfile", "lint", str(dockerfile))
    assert ran.code == 0, ran.stdout
    assert ran.stdout == ""
    # The organisation's base is an option: named, it is checked.
    based = run("dockerfile", "lint", "--base", "registry.example.com/base:1", str(dockerfile))
    assert based.code == 1
    assert (
        "HF008 base-not-hardened: built on python:3.12-slim, not registry.example.com/base:1"
        in (based.stdout)
    )


def test_dockerfile_fix_keeps_the_base_without_base_option(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(b'FROM python:3.12-slim\nCMD ["python"]\n')
    ran = run("dockerfile", "fix", str(dockerfile))
    assert ran.code == 0, ran.stderr
    assert ran.stdout == 'FROM python:3.12-slim\nCMD ["python"]\nUSER 1000:1000\n'


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("RUN chmod u+s /usr/local/bin/tool", "HF009 setuid-chmod: chmod u+s"),
        ("RUN chmod 4755 /usr/local/bin/tool", "HF009 setuid-chmod: chmod 4755"),
        ("RUN chmod -R g+s /srv", "HF009 setuid-chmod: chmod g+s"),
        ("ENV API_KEY=sk-live-123", "HF010 secret-in-env-or-arg: ENV API_KEY"),
        ("ENV DB_PASSWORD hunter2", "HF010 secret-in-env-or-arg: ENV DB_PASSWORD"),
        ("ARG GITHUB_TOKEN", "HF010 secret-in-env-or-arg: ARG GITHUB_TOKEN"),
    ],
)
def test_dockerfile_lint_finds_setuid_and_baked_secrets(
    line: str, rule: str, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM python:3.12-slim\n{line}\nUSER 1000:1000\n", encoding="utf-8")
    ran = run("dockerfile", "lint", str(dockerfile))
    assert ran.code == 1
    assert f"{dockerfile}:2: {rule}" in ran.stdout
    # fix cannot decide for a human: it says so, and agrees with lint (exit 1).
    fixed = run("dockerfile", "fix", str(dockerfile))
    assert fixed.code == 1
    assert f"{dockerfile}:2: {rule}" in fixed.stderr


@pytest.mark.parametrize(
    "line", ["ENV TOKENIZERS_PARALLELISM=false", "ENV API_KEY_FILE=/run/secrets/key", "ENV A=1"]
)
def test_dockerfile_lint_does_not_call_every_name_a_secret(line: str, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM python:3.12-slim\n{line}\nUSER 1000:1000\n", encoding="utf-8")
    assert run("dockerfile", "lint", str(dockerfile)).code == 0


@pytest.mark.parametrize(
    ("user", "rule", "fixed_user"),
    [
        ("", "HF001 final-user-root: USER without a user", "USER 1000:1000"),
        ("1000:0", "HF011 final-group-root: USER 1000:0: group 0 is root", "USER 1000:1000"),
        ("app:root", "HF011 final-group-root: USER app:root: group root is root", "USER app:1000"),
    ],
)
def test_dockerfile_bare_user_and_root_group_are_found_and_fixed(
    user: str, rule: str, fixed_user: str, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f'FROM python:3.12-slim\nUSER {user}\nCMD ["x"]\n', encoding="utf-8")
    ran = run("dockerfile", "lint", str(dockerfile))
    assert ran.code == 1
    assert f"{dockerfile}:2: {rule}" in ran.stdout
    fixed = run("dockerfile", "fix", "--in-place", str(dockerfile))
    assert fixed.code == 0, fixed.stderr
    text = dockerfile.read_text(encoding="utf-8")
    assert text.rstrip("\n").splitlines()[-1] == fixed_user or fixed_user + "\n" in text
    assert run("dockerfile", "lint", str(dockerfile)).code == 0


@pytest.mark.parametrize(
    "options",
    [[], ["--profile", "hardened", "--base", "ai_system/base:1.0"]],
    ids=["nonroot", "org"],
)
def test_dockerfile_fix_and_lint_agree_on_the_result(options: list[str], tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_bytes(DOCKERFILE_EXAMPLE.read_bytes())
    fixed = run("dockerfile", "fix", *options, "--in-place", str(dockerfile))
    linted = run("dockerfile", "lint", *options, str(dockerfile))
    assert fixed.code == linted.code
    # Every finding lint still has is one fix listed as left for a human.
    for finding in linted.stdout.splitlines():
        assert f"  {finding}" in fixed.stderr.splitlines()
    if options:
        assert linted.code == 1 and "HF003 user-root-in-final-stage" in linted.stdout
    else:
        assert linted.code == 0, linted.stdout


def test_dockerfile_lint_and_fix_read_stdin() -> None:
    source = DOCKERFILE_EXAMPLE.read_bytes()
    linted = run("dockerfile", "lint", "-", stdin=source)
    assert linted.code == 1
    assert "<stdin>:8: HF001 final-user-root: USER root runs as root" in linted.stdout
    fixed = run("dockerfile", "fix", "-", stdin=source)
    assert fixed.code == 0, fixed.stderr
    assert fixed.stdout.endswith("USER 1000:1000\n")
    assert "<stdin>: fixed: appended USER" in fixed.stderr
    refused = run("dockerfile", "fix", "--in-place", "-", stdin=source)
    assert refused.code == 2
    assert "--in-place cannot rewrite stdin" in refused.stderr


# ---------------------------------------------------------------- crd, version, completion


def test_crd_output_and_check_errors_are_one_line(tmp_path: Path) -> None:
    ran = run("crd", "-o", str(tmp_path / "missing-dir" / "crd.yaml"))
    assert ran.code == 2
    assert f"error: {tmp_path}/missing-dir/crd.yaml: cannot write: No such file" in ran.stderr
    bad = tmp_path / "crd.yaml"
    bad.write_bytes(NOT_UTF8)
    checked = run("crd", "--check", str(bad))
    assert checked.code == 2
    assert f"error: {bad}:3: not UTF-8 text" in checked.stderr


def test_version_command_and_option_agree() -> None:
    from hardened_operator import __version__

    command = run("version")
    option = run("--version")
    assert command.code == option.code == 0
    assert command.stdout.startswith(f"hardened-operator {__version__} (Python ")
    assert option.stdout == f"hardened-operator {__version__}\n"


def test_shell_completion_as_documented() -> None:
    # Completion keys on the program's name: run the installed `hardened` script.
    hardened = Path(sys.executable).parent / "hardened"

    def complete(**env: str) -> str:
        completed = subprocess.run(
            [str(hardened)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=60,
            check=True,
        )
        return completed.stdout

    script = complete(_HARDENED_COMPLETE="bash_source")
    assert "complete -o nosort -F _hardened_completion hardened" in script
    words = complete(_HARDENED_COMPLETE="bash_complete", COMP_WORDS="hardened ren", COMP_CWORD="1")
    assert words.strip() == "plain,render"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "_HARDENED_COMPLETE=bash_source hardened" in readme


def test_audit_stdin_that_is_not_utf8_is_reported_not_a_crash() -> None:
    for args in (["audit", "-"], ["audit", "--fix", "-"]):
        ran = run(*args, stdin=NOT_UTF8)
        assert ran.code == 2
        assert "<stdin>:3" in ran.stdout + ran.stderr
        assert "not UTF-8 text" in ran.stdout + ran.stderr


def test_render_names_the_kind_it_got() -> None:
    ran = run("render", "-", stdin=b"apiVersion: apps/v1\nkind: Deployment\n")
    assert ran.code == 2
    assert ran.stderr == "error: <stdin> (document 1): not a HardenedService (kind: Deployment)\n"


def test_convert_errors_spell_values_as_yaml(tmp_path: Path) -> None:
    ran = run(
        "convert", "-", stdin=(COMPOSE + "    deploy: {replicas: true}\n").encode(), cwd=tmp_path
    )
    assert ran.code == 2
    assert ran.stderr == (
        "error: <stdin>:2: service 'api': deploy.replicas: must be a non-negative integer, "
        "not true\n"
    )
