"""Real processes: the installed ``hardened`` script, its exit codes, and a light start-up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.audit.audit_manifests import bad_specs, compliant_spec, wrap
from tests.audit.audit_support import HARDENED, write_yaml

HEAVY = ("kubernetes", "kopf", "aiohttp")


def _run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HARDENED), "audit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


_PROBE = """
import json, sys
from hardened_operator.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
sys.stderr.write("\\nMODULES=" + json.dumps(sorted(sys.modules)))
"""


def _imported_modules(*args: str) -> set[str]:
    """Every module loaded by a real ``hardened audit`` process (run through the CLI group)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "audit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    marker = proc.stderr.rsplit("MODULES=", 1)
    assert len(marker) == 2, proc.stderr[-2000:]
    names = set(json.loads(marker[1]))
    assert "hardened_operator.cli.audit" in names  # the probe really ran the command
    return names


def test_script_is_installed() -> None:
    assert HARDENED.exists(), "run scripts/setup.sh first: .venv/bin/hardened is missing"


def test_audit_never_imports_the_kubernetes_client(tmp_path: Path) -> None:
    f = write_yaml(tmp_path / "d.yaml", wrap("Deployment", bad_specs()["init-root"]))
    hs = write_yaml(
        tmp_path / "hs.yaml",
        {
            "apiVersion": "ai-system.io/v1alpha1",
            "kind": "HardenedService",
            "metadata": {"name": "svc"},
            "spec": {"image": "registry.example/app:1"},
        },
    )
    for args in ([str(f)], [str(f), "--format", "sarif"], [str(f), "--fix"], [str(hs)]):
        names = _imported_modules(*args)
        top = {name.split(".")[0] for name in names}
        assert not top & set(HEAVY), (args, top & set(HEAVY))
    # and ruamel.yaml is paid for only by --fix
    assert "ruamel" not in {n.split(".")[0] for n in _imported_modules(str(f))}


def test_exit_codes_of_the_real_script(tmp_path: Path) -> None:
    ok = write_yaml(tmp_path / "ok.yaml", wrap("Pod", compliant_spec()))
    bad = write_yaml(tmp_path / "bad.yaml", wrap("Pod", bad_specs()["pod-uid0"]))
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "kind": "Pod",\n  ]\n')
    assert _run(str(ok)).returncode == 0
    assert _run(str(bad)).returncode == 1
    proc = _run(str(ok), str(broken), str(bad))
    assert proc.returncode == 2
    assert f"{broken}:3" in proc.stdout and "invalid JSON" in proc.stdout
    assert "runAsUser" in proc.stdout  # the good files were still audited


def test_stdin_directory_and_list(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    write_yaml(
        tmp_path / "nested" / "list.yaml",
        {"apiVersion": "v1", "kind": "List", "items": [wrap("Job", bad_specs()["bare"], "job")]},
    )
    proc = _run(str(tmp_path), "--format", "json")
    assert proc.returncode == 1
    assert {e["name"] for e in json.loads(proc.stdout)} == {"job"}
    proc = _run(
        "-", "--format", "json", stdin=yaml.safe_dump(wrap("Pod", bad_specs()["bare"], "p"))
    )
    assert proc.returncode == 1
    assert {e["file"] for e in json.loads(proc.stdout)} == {"<stdin>"}


def test_skipped_document_note_goes_to_stderr(tmp_path: Path) -> None:
    f = tmp_path / "values.yaml"
    f.write_text("replicaCount: 2\nimage: {repository: x}\n")
    proc = _run(str(f))
    assert proc.returncode == 0
    assert "note:" in proc.stderr and "not a Kubernetes object" in proc.stderr
    assert "note:" not in proc.stdout


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_formats_are_pure_json_on_stdout(tmp_path: Path, fmt: str) -> None:
    f = write_yaml(tmp_path / "d.yaml", wrap("DaemonSet", bad_specs()["ephemeral-bare"]))
    proc = _run(str(f), "--format", fmt)
    assert proc.returncode == 1
    json.loads(proc.stdout)


def test_fix_in_place_then_audit_passes(tmp_path: Path) -> None:
    f = tmp_path / "app.yaml"
    f.write_text(
        "# keep me\n"
        "apiVersion: batch/v1\n"
        "kind: CronJob\n"
        "metadata:\n"
        "  name: nightly  # runs at 3\n"
        "spec:\n"
        "  schedule: '0 3 * * *'\n"
        "  jobTemplate:\n"
        "    spec:\n"
        "      template:\n"
        "        spec:\n"
        "          initContainers:\n"
        "          - name: migrate\n"
        "            image: tool\n"
        "            securityContext: {runAsUser: 0}\n"
        "          containers:\n"
        "          - name: job\n"
        "            image: tool\n"
    )
    assert _run(str(f)).returncode == 1
    proc = _run(str(f), "--fix", "--in-place")
    assert proc.returncode == 0, proc.stderr
    text = f.read_text()
    assert text.startswith("# keep me\n") and "  name: nightly  # runs at 3\n" in text
    assert "  schedule: '0 3 * * *'\n" in text
    assert _run(str(f)).returncode == 0
