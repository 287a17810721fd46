"""``hardened convert`` as users run it: exit codes, stderr, and the round trip through
``hardened render`` and ``hardened audit`` (the real modules, no stand-ins)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.migrate.migrate_support import COMPOSE, DOCS_EXAMPLES, PREFIX, REPO, hardened

CRD = REPO / "crds" / "hardenedservices.ai-system.io.yaml"

ROUND_TRIP = [
    ([COMPOSE / "seed" / "docker-compose.production.yml"], ["--image-prefix", PREFIX]),
    ([COMPOSE / "v2" / "docker-compose.yml"], []),
    ([COMPOSE / "anchors" / "compose.yaml"], []),
    ([COMPOSE / "envfile" / "docker-compose.yml"], []),
    (
        [
            COMPOSE / "override" / "docker-compose.yml",
            COMPOSE / "override" / "docker-compose.override.yml",
        ],
        [],
    ),
    ([DOCS_EXAMPLES / "docker-compose.yml"], ["--image-prefix", PREFIX]),
]


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    versions = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema: dict[str, Any] = versions[0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize(
    ("files", "flags"), ROUND_TRIP, ids=[f"{f[0].parent.name}-{f[-1].name}" for f, _ in ROUND_TRIP]
)
def test_round_trip_convert_render_audit_clean(
    tmp_path: Path, files: list[Path], flags: list[str]
) -> None:
    converted = hardened("convert", "--namespace", "ai", *flags, *map(str, files))
    assert converted.exit_code == 0, converted.stderr
    documents = list(yaml.safe_load_all(converted.stdout))
    assert documents and all(d["kind"] == "HardenedService" for d in documents)
    schema = crd_schema()
    for document in documents:
        jsonschema.validate(document, schema)  # the installed CRD's structural schema
    services = tmp_path / "hardenedservices.yaml"
    services.write_text(converted.stdout, encoding="utf-8")

    rendered = hardened("render", str(services))
    assert rendered.exit_code == 0, rendered.stderr
    objects = [o for o in yaml.safe_load_all(rendered.stdout) if o]
    kinds = {o["kind"] for o in objects}
    assert "Deployment" in kinds
    manifests = tmp_path / "rendered.yaml"
    manifests.write_text(rendered.stdout, encoding="utf-8")

    for path in (manifests, services):
        audited = hardened("audit", "--profile", "restricted", str(path))
        assert audited.exit_code == 0, audited.stdout + audited.stderr
    # ...and the audit is not blind: a root user in the same objects is caught.
    tampered = rendered.stdout.replace("runAsUser: 1000", "runAsUser: 0", 1)
    assert tampered != rendered.stdout
    (tmp_path / "tampered.yaml").write_text(tampered, encoding="utf-8")
    assert hardened("audit", str(tmp_path / "tampered.yaml")).exit_code == 1


def test_stderr_lists_what_is_unmappable_per_service() -> None:
    run = hardened("convert", str(COMPOSE / "v2" / "docker-compose.yml"))
    assert run.exit_code == 0
    lines = run.stderr.splitlines()
    assert (
        "worker: unmappable: cap_add: [SYS_PTRACE]: every HardenedService drops ALL "
        "capabilities" in lines
    )
    assert any(line.startswith("worker: warning: user: 'root' is root") for line in lines)
    assert "HardenedService" in run.stdout and "unmappable" not in run.stdout


def test_strict_turns_unmappable_into_exit_1_and_prints_nothing() -> None:
    run = hardened("convert", "--strict", str(COMPOSE / "v2" / "docker-compose.yml"))
    assert run.exit_code == 1
    assert run.stdout == ""
    assert "--strict" in run.stderr and "cap_add" in run.stderr


def test_strict_passes_when_only_warnings_remain(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  api:\n    image: example/api:1\n    user: root\n")
    run = hardened("convert", "--strict", str(path))
    assert run.exit_code == 0, run.stderr
    assert "warning: user" in run.stderr
    assert yaml.safe_load(run.stdout)["spec"]["securityContext"]["runAsUser"] == 1000


@pytest.mark.parametrize(
    ("name", "location"),
    [
        ("invalid.yml", "invalid.yml:6:"),
        ("service-list.yml", "service-list.yml:4:"),
        ("bad-memory.yml", "bad-memory.yml:2:"),
    ],
)
def test_unreadable_input_exits_2_with_file_and_line(name: str, location: str) -> None:
    run = hardened("convert", str(COMPOSE / "broken" / name))
    assert run.exit_code == 2
    assert location in run.stderr
    assert run.stdout == ""


def test_missing_file_exits_2(tmp_path: Path) -> None:
    run = hardened("convert", str(tmp_path / "absent.yml"))
    assert run.exit_code == 2 and "no such file" in run.stderr


def test_build_only_service_needs_a_prefix() -> None:
    path = COMPOSE / "broken" / "build-only.yml"
    run = hardened("convert", str(path))
    assert run.exit_code == 1
    assert "'api' only has `build:`" in run.stderr and run.stdout == ""
    run = hardened("convert", "--image-prefix", "reg.example/x/", str(path))
    assert run.exit_code == 0
    images = [d["spec"]["image"] for d in yaml.safe_load_all(run.stdout)]
    assert images == ["reg.example/x/api", "example/web:1.0"]


def test_output_has_no_yaml_aliases_and_namespace_is_optional() -> None:
    run = hardened(
        "convert", str(COMPOSE / "seed" / "docker-compose.production.yml"), "--image-prefix", PREFIX
    )
    assert run.exit_code == 0
    assert "&id" not in run.stdout and "*id" not in run.stdout
    assert all("namespace" not in d["metadata"] for d in yaml.safe_load_all(run.stdout))


def test_the_installed_console_script_runs_convert() -> None:
    script = Path(sys.executable).parent / "hardened"
    done = subprocess.run(
        [str(script), "convert", str(COMPOSE / "anchors" / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(done.stdout)] == [
        "api-gateway",
        "trainer",
    ]


def test_invalid_namespace_is_a_usage_error() -> None:
    run = hardened("convert", "-n", "Bad_NS", str(COMPOSE / "anchors" / "compose.yaml"))
    assert run.exit_code == 2 and "not a valid namespace" in run.stderr and run.stdout == ""


# Hostile compose files (a YAML alias bomb, absurd nesting) are unreadable input: exit 2
# naming the file, within seconds, never a RecursionError traceback.
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
