"""``hardened render``: files, stdin, multi-document input, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.cli._exit import EXIT_BAD_INPUT

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples" / "hardenedservice"

VALID = """\
apiVersion: ai-system.io/v1alpha1
kind: HardenedService
metadata: {name: one}
spec: {image: busybox:1.36, ports: [{containerPort: 80}]}
"""
ROOT = """\
apiVersion: ai-system.io/v1alpha1
kind: HardenedService
metadata: {name: rooty}
spec:
  image: busybox:1.36
  securityContext: {runAsUser: 0}
"""


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["render", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def kinds_and_names(stdout: str) -> list[str]:
    return [f"{d['kind']}/{d['metadata']['name']}" for d in yaml.safe_load_all(stdout)]


def test_renders_a_file(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(VALID)
    code, out, err = run(str(path))
    assert (code, err) == (0, "")
    assert kinds_and_names(out) == [
        "PersistentVolumeClaim/one-logs",
        "PersistentVolumeClaim/one-data",
        "PersistentVolumeClaim/one-models",
        "PersistentVolumeClaim/one-cache",
        "Deployment/one",
        "Service/one",
    ]
    assert out.startswith("---\n")


def test_reads_stdin() -> None:
    code, out, _ = run("-", stdin=VALID)
    assert code == 0
    assert "Deployment/one" in kinds_and_names(out)


def test_multi_document_files_and_several_files(tmp_path: Path) -> None:
    second = VALID.replace("name: one", "name: two")
    multi = tmp_path / "multi.yaml"
    multi.write_text(f"---\n{VALID}---\n# only a comment\n---\n{second}")
    code, out, _ = run(str(multi), "-", stdin=VALID.replace("name: one", "name: three"))
    assert code == 0
    deployments = [n for n in kinds_and_names(out) if n.startswith("Deployment/")]
    assert deployments == ["Deployment/one", "Deployment/two", "Deployment/three"]


def test_root_uid_exits_2_naming_run_as_user(tmp_path: Path) -> None:
    path = tmp_path / "root.yaml"
    path.write_text(ROOT)
    code, out, err = run(str(path))
    assert code == EXIT_BAD_INPUT == 2
    assert out == "", "nothing may be printed for a pipeline to apply"
    assert "spec.securityContext.runAsUser" in err
    assert "rooty" in err and str(path) in err and "root" in err


def test_one_bad_document_prints_nothing_at_all(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text(f"{VALID}---\n{ROOT}")
    code, out, err = run(str(path))
    assert (code, out) == (2, "")
    assert "document 2" in err and "runAsUser" in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n", "not a HardenedService"),
        ("- just\n- a list\n", "not a HardenedService"),
        (VALID.replace("image: busybox:1.36, ", "imagee: busybox:1.36, "), "spec.imagee"),
        (VALID.replace("{name: one}", "{name: One}"), "metadata.name"),
        ("kind: HardenedService\nspec: [unclosed\n", "invalid YAML"),
    ],
)
def test_invalid_input_exits_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = run(str(path))
    assert (code, out) == (2, "")
    assert needle in err


def test_yaml_errors_carry_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: HardenedService\nmetadata:\n  name: x\n spec: bad-indent\n")
    code, _, err = run(str(path))
    assert code == 2
    assert f"{path}:" in err and "invalid YAML" in err


def test_missing_file_exits_2() -> None:
    code, out, err = run("/nonexistent/hsvc.yaml")
    assert (code, out) == (2, "")
    assert "/nonexistent/hsvc.yaml" in err


def test_the_documented_invalid_example_fails_as_documented() -> None:
    code, out, err = run(str(EXAMPLES / "invalid-root.yaml"))
    assert (code, out) == (2, "")
    assert "spec.securityContext.runAsUser" in err


def test_all_valid_examples_render_together() -> None:
    files = sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("invalid-"))
    code, out, err = run(*files)
    assert (code, err) == (0, "")
    assert len([n for n in kinds_and_names(out) if n.startswith("Deployment/")]) >= 5


def test_a_kubectl_list_of_hardened_services_renders_every_item() -> None:
    items = [yaml.safe_load(VALID), yaml.safe_load(VALID.replace("name: one", "name: two"))]
    items[1]["status"] = {"observedGeneration": 1}  # as kubectl get -o yaml prints it
    listing = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})
    code, out, _ = run("-", stdin=listing)
    assert code == 0
    assert [n for n in kinds_and_names(out) if n.startswith("Deployment/")] == [
        "Deployment/one",
        "Deployment/two",
    ]


def test_a_list_with_a_foreign_item_is_refused() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    listing = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [pod]})
    code, out, err = run("-", stdin=listing)
    assert (code, out) == (2, "")
    assert "items[0]" in err and "not a HardenedService" in err


def test_output_is_byte_identical_across_processes() -> None:
    """No set or hash ordering leaks into the output: two interpreters with different hash
    seeds render the same bytes (server-side apply of unchanged input stays a no-op)."""
    import os
    import subprocess
    import sys

    files = sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.startswith("invalid-"))
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-m", "hardened_operator.cli", "render", *files],
            env=env,
            capture_output=True,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"kind: Deployment") >= 5
