"""``hardened dev`` where the package has no ``dev/`` (the production image deletes it): one
line saying so and exit 1, not a ModuleNotFoundError traceback. Every other command works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import hardened_operator

PACKAGE = Path(hardened_operator.__file__).parent


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
        check=False,
    )


def test_dev_says_it_is_not_installed_and_exits_1(tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "hardened_operator", ignore=shutil.ignore_patterns("dev"))
    assert not (tmp_path / "hardened_operator" / "dev").exists()
    for args in (["dev", "status", "--dir", str(tmp_path / "plane")], ["dev", "build-assets"]):
        proc = _run(tmp_path, *args)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: hardened dev is not part of this installation")
        assert "Traceback" not in proc.stderr
    proc = _run(tmp_path, "version")
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr
    # What ran is the copy, not the checkout's package (which has dev/).
    where = subprocess.run(
        [sys.executable, "-c", "import hardened_operator; print(hardened_operator.__file__)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        cwd=tmp_path,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(tmp_path)


def test_dev_still_runs_where_it_is_installed(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", "dev", "status", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "not part of this installation" not in proc.stderr
    assert proc.stderr.startswith("error: no control plane state in"), proc.stderr
