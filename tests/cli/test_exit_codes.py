"""Exit codes: one mapping at the command line's boundary, the same in every command.

2 is "what you gave us is unusable" (a missing or unwritable file, bad YAML, an invalid spec, a
bad option value, a policy misconfiguration); 1 is "understood, and the answer is no" (findings,
a stale CRD, an unmappable conversion, a refusal by the cluster); 0 is success.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.cli._exit import EXIT_BAD_INPUT, EXIT_FAILED, exit_code
from hardened_operator.errors import (
    ApiError,
    AssetsNotFoundError,
    ConflictError,
    ControlPlaneError,
    ConversionError,
    ExpiredError,
    ForbiddenError,
    HardenedError,
    InputError,
    InvalidError,
    MalformedFieldError,
    ManifestParseError,
    NotFoundError,
    PolicyError,
    SpecValidationError,
    TransientApiError,
    UnauthorizedError,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
COMPOSE_ROOT = "services:\n  api:\n    image: example/api:1\n    cap_add: [SYS_PTRACE]\n"
DOCKERFILE_ROOT = 'FROM python:3.12-slim\nUSER root\nCMD ["python"]\n'


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InputError("x"), EXIT_BAD_INPUT),
        (ManifestParseError("x", file="f", line=1), EXIT_BAD_INPUT),
        (SpecValidationError("x", field="spec"), EXIT_BAD_INPUT),
        (MalformedFieldError("spec.containers", "a list", "x"), EXIT_BAD_INPUT),
        (PolicyError("x"), EXIT_BAD_INPUT),
        (ConversionError("x"), EXIT_FAILED),
        (ApiError("x", status=400), EXIT_FAILED),
        (UnauthorizedError("x", status=401), EXIT_FAILED),
        (ForbiddenError("x", status=403), EXIT_FAILED),
        (ExpiredError("x", status=410), EXIT_FAILED),
        (InvalidError("x", status=422), EXIT_FAILED),
        (ConflictError("x", status=409), EXIT_FAILED),
        (NotFoundError("x", status=404), EXIT_FAILED),
        (TransientApiError("x", status=503), EXIT_FAILED),
        (ControlPlaneError("x"), EXIT_FAILED),
        (AssetsNotFoundError("x"), EXIT_FAILED),
        (HardenedError("x"), EXIT_FAILED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_each_error_has_one_exit_code(error: HardenedError, code: int) -> None:
    assert exit_code(error) == code


def _files(tmp: Path) -> dict[str, str]:
    (tmp / "compose.yaml").write_text(COMPOSE_ROOT)
    (tmp / "Dockerfile").write_text(DOCKERFILE_ROOT)
    (tmp / "bad.yaml").write_text("a: [\n")
    (tmp / "stale-crd.yaml").write_text("kind: CustomResourceDefinition\n")
    return {"tmp": str(tmp), "missing": str(tmp / "absent.yaml"), "nodir": str(tmp / "no/x")}


# (arguments, exit code, a word the one-line error must contain); {tmp} etc. from _files.
CASES = [
    # 2: unusable input, in every command that reads some.
    (["render", "{missing}"], 2, "no such file"),
    (["render", "{tmp}/bad.yaml"], 2, "bad.yaml"),
    (["render", str(EXAMPLES / "hardenedservice" / "invalid-root.yaml")], 2, "runAsUser"),
    (["render", str(EXAMPLES / "hardenedservice" / "minimal.yaml"), "-o", "{nodir}"], 2, "write"),
    (["convert", "{missing}"], 2, "no such file"),
    (["convert", "-n", "Bad_NS", "{tmp}/compose.yaml"], 2, "DNS-1123"),
    (["crd", "--check", "{missing}"], 2, "no such file"),
    (["dockerfile", "lint", "{missing}"], 2, "no such file"),
    (["dockerfile", "fix", "{missing}"], 2, "no such file"),
    (["audit", "{missing}"], 2, "absent.yaml"),
    (["audit", "{tmp}/bad.yaml"], 2, "bad.yaml"),
    (["webhook", "--listen", "127.0.0.1"], 2, "HOST:PORT"),
    (["webhook", "--insecure", "--listen", "127.0.0.1:0", "--exempt-namespace", "k*"], 2, "k*"),
    (["run", "--no-webhook", "--health-listen", "nowhere"], 2, "HOST:PORT"),
    (["run", "--no-webhook", "--exempt-username", " "], 2, "non-empty"),
    # 1: understood, and the answer is no.
    (["convert", "--strict", "{tmp}/compose.yaml"], 1, "--strict"),
    (["crd", "--check", "{tmp}/stale-crd.yaml"], 1, "stale"),
    (["dockerfile", "lint", "{tmp}/Dockerfile"], 1, ""),
    (["audit", str(EXAMPLES / "audit" / "web-root.yaml")], 1, ""),
    # 0: success.
    (["render", str(EXAMPLES / "hardenedservice" / "minimal.yaml")], 0, ""),
    (["audit", str(EXAMPLES / "audit" / "web-hardened.yaml")], 0, ""),
    (["convert", "{tmp}/compose.yaml"], 0, ""),
]


@pytest.mark.parametrize(
    ("args", "code", "word"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_commands_exit_with_the_mapped_code(
    tmp_path: Path, args: list[str], code: int, word: str
) -> None:
    files = _files(tmp_path)
    result = CliRunner().invoke(main, [arg.format(**files) for arg in args])
    assert result.exit_code == code, result.output
    assert word in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
