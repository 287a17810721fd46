"""docs/dev.md's walkthrough, run line by line as a user would paste it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError
from support import controlplane

pytestmark = pytest.mark.controlplane

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "dev.md"
MARKER = "<!-- walkthrough: run by tests/devcp/test_docs_walkthrough.py -->"
DOC_DIR = "/tmp/hardened-dev"


def walkthrough() -> list[str]:
    text = DOC.read_text()
    assert MARKER in text, "the walkthrough marker is gone from docs/dev.md"
    block = re.search(r"```bash\n(.*?)```", text.split(MARKER, 1)[1], re.DOTALL)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_walkthrough_runs_as_documented(tmp_path: Path) -> None:
    try:
        found = assets.require_assets()
    except AssetsNotFoundError as error:
        if controlplane.required():
            pytest.fail(str(error))
        pytest.skip(str(error))
    if found.kubectl is None:
        if controlplane.required():  # CI builds kubectl with the assets: the docs must run
            pytest.fail("the walkthrough uses kubectl; these assets have none")
        pytest.skip("the walkthrough uses kubectl; these assets have none")
    lines = walkthrough()
    directory = tmp_path / "hardened-dev"
    script = ["exec 2>&1"]  # each command's errors next to its output, in order
    for index, line in enumerate(lines):
        # Our own directory instead of /tmp/hardened-dev, so parallel runs never collide.
        command = line.replace(DOC_DIR, str(directory))
        script += [f"echo '::begin {index}'", command, f'echo "::end {index} $?"']
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    try:
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        if (directory / "state.json").exists():  # whatever happened, stop the plane
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "hardened_operator.cli",
                    "dev",
                    "down",
                    "--dir",
                    str(directory),
                ],
                capture_output=True,
                check=False,
            )
    outputs = _split(result.stdout, len(lines))
    for index, line in enumerate(lines):
        output, status = outputs[index]
        refused = "# refused" in line
        assert status is not None, f"never ran: {line}\n{result.stdout}\n{result.stderr}"
        assert (status != 0) == refused, f"{line}\nexit {status}\n{output}\n{result.stderr}"

    by_command = {line.split("#")[0].strip(): outputs[i][0] for i, line in enumerate(lines)}
    version = json.loads(by_command["kubectl get --raw /version"])
    assert version["gitVersion"] == assets.KUBERNETES_VERSION
    run_as = (
        "kubectl get deployment hello -o jsonpath='{.spec.template.spec.securityContext.runAsUser}'"
    )
    assert by_command[run_as].strip() == "1000"
    schema = by_command["kubectl apply -f docs/examples/hardenedservice/invalid-root.yaml"]
    assert "spec.securityContext.runAsUser" in schema
    root_pod = next(
        text for command, text in by_command.items() if command.startswith("kubectl run root")
    )
    assert 'admission webhook "enforce.hardened-operator-dev.ai-system.io" denied' in root_pod
    assert "runAsUser" in root_pod
    assert "api https://127.0.0.1:" in by_command[f"hardened dev status --dir {DOC_DIR}"]
    stopped = by_command[f"hardened dev down --dir {DOC_DIR}"]
    assert re.search(r"stopped operator \(pid \d+\), kube-apiserver \(pid \d+\), etcd", stopped)


def _split(output: str, count: int) -> list[tuple[str, int | None]]:
    """Per line of the walkthrough: its output (stdout and stderr) and exit code."""
    results: list[tuple[str, int | None]] = [("", None)] * count
    for match in re.finditer(r"::begin (\d+)\n(.*?)::end \1 (\d+)", output, re.DOTALL):
        results[int(match.group(1))] = (match.group(2), int(match.group(3)))
    return results
