"""Run a documented shell walkthrough line by line, as a user would paste it.

Shared by the README's and docs/dev.md's walkthrough tests: each line runs in one bash
session (so ``export`` and ``eval`` carry over), its output and exit code are recorded
separately, and whatever ``hardened dev up`` started is stopped afterwards, also when a line
or an assertion fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError
from tests.support import controlplane

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Step:
    line: str
    output: str
    status: int

    @property
    def command(self) -> str:
        """The line without its trailing comment."""
        return self.line.split("#")[0].strip()


def bash_block_after(text: str, marker: str) -> list[str]:
    """The non-empty lines of the first ```bash block after ``marker``."""
    assert marker in text, f"the walkthrough marker {marker!r} is gone"
    block = re.search(r"```bash\n(.*?)```", text.split(marker, 1)[1], re.DOTALL)
    assert block is not None, f"no bash block after {marker!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]


def require_kubectl_assets() -> None:
    """Skip (or, in CI, fail) unless the control-plane assets include kubectl."""
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


def run(lines: list[str], doc_dir: str, directory: Path) -> list[Step]:
    """Run ``lines`` with ``doc_dir`` replaced by ``directory`` (so runs never collide).

    Every line must have run; a line whose comment contains ``# refused`` must fail and every
    other line must succeed (asserted here, with the output in the message).
    """
    script = ["exec 2>&1"]  # each command's errors next to its output, in order
    for index, line in enumerate(lines):
        command = line.replace(doc_dir, str(directory))
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
            check=False,
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
    recorded = {
        int(m.group(1)): (m.group(2), int(m.group(3)))
        for m in re.finditer(r"::begin (\d+)\n(.*?)::end \1 (\d+)", result.stdout, re.DOTALL)
    }
    steps: list[Step] = []
    for index, line in enumerate(lines):
        assert index in recorded, f"never ran: {line}\n{result.stdout}\n{result.stderr}"
        output, status = recorded[index]
        refused = "# refused" in line
        assert (status != 0) == refused, f"{line}\nexit {status}\n{output}\n{result.stderr}"
        steps.append(Step(line, output, status))
    return steps


def outputs_by_command(steps: list[Step]) -> dict[str, str]:
    return {step.command: step.output for step in steps}
