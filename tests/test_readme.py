"""The README's promises: its first two commands, its YAML, and its laptop walkthrough."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hardened_operator import builders, conventions
from tests.support import walkthrough

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
LAPTOP_MARKER = "<!-- laptop: run by tests/test_readme.py -->"


def _blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


def test_first_lines_are_setup_and_the_ci_test_command() -> None:
    first = _blocks("bash")[0].splitlines()
    assert len(first) == 2, "the README opens with exactly two commands"
    setup, tests = (line.split("#")[0].strip() for line in first)
    assert setup.startswith("bash scripts/setup.sh") and "hardened dev up" in setup
    assert tests == "bash scripts/test.sh"
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^bash scripts/test\.sh$", ci, re.MULTILINE), ".ci/run must run it as is"
    assert README.index(_blocks("bash")[0]) < 40, "the commands must be the README's first lines"


def _hardened_services() -> list[dict[str, Any]]:
    docs = [doc for block in _blocks("yaml") for doc in yaml.safe_load_all(block)]
    return [doc for doc in docs if isinstance(doc, dict) and doc.get("kind") == "HardenedService"]


def test_readme_hardened_service_becomes_what_the_readme_says() -> None:
    services = _hardened_services()
    assert [s["metadata"]["name"] for s in services] == ["orders-api"]
    objects = builders.build_objects(services[0])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    assert [d["metadata"]["name"] for d in by_kind["Deployment"]] == ["orders-api"]
    assert [s["metadata"]["name"] for s in by_kind["Service"]] == ["orders-api"]
    pvcs = sorted(p["metadata"]["name"] for p in by_kind["PersistentVolumeClaim"])
    assert pvcs == ["orders-api-data", "orders-api-logs"]

    pod = by_kind["Deployment"][0]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == conventions.APP_UID
    assert pod["securityContext"]["runAsGroup"] == conventions.APP_GID
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/app/logs", "/app/data", "/tmp"} <= mounts
    assert not {"/app/models", "/app/cache"} & mounts
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["tcpSocket"]["port"] in (8000, "http")
        assert container[probe]["timeoutSeconds"] == conventions.HEALTH_TIMEOUT_SECONDS
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["periodSeconds"] == conventions.HEALTH_INTERVAL_SECONDS
        assert container[probe]["failureThreshold"] == conventions.HEALTH_RETRIES
    startup = container["startupProbe"]
    window = startup["periodSeconds"] * startup["failureThreshold"]
    assert window >= conventions.HEALTH_START_PERIOD_SECONDS


@pytest.mark.controlplane
def test_laptop_walkthrough_runs_as_written(tmp_path: Path) -> None:
    walkthrough.require_kubectl_assets()
    lines = walkthrough.bash_block_after(README, LAPTOP_MARKER)
    steps = walkthrough.run(lines, ".dev", tmp_path / "dev")
    by_command = walkthrough.outputs_by_command(steps)
    run_as = (
        "kubectl get deployment hello -o jsonpath='{.spec.template.spec.securityContext.runAsUser}'"
    )
    assert by_command[run_as].strip() == str(conventions.APP_UID)
    assert "hello" in by_command["kubectl get hsvc"]
    root = next(out for cmd, out in by_command.items() if cmd.startswith("kubectl run root"))
    assert "denied the request" in root and "runAsUser" in root
