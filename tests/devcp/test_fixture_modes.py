"""The ``control_plane`` fixture: skip vs fail (CI), and KUBECONFIG (an existing cluster)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError
from tests.support import controlplane

TESTS = Path(__file__).resolve().parents[1]

TARGET = """
def test_needs_the_plane(control_plane):
    print("SERVER", control_plane.server, "EXTERNAL", control_plane.external)
"""


def _pytest(tmp_path: Path, env: dict[str, str], *targets: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_target.py").write_text(TARGET)
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KUBECONFIG", "KUBEBUILDER_ASSETS", controlplane.REQUIRE_ENV, "CI")
    }
    full_env["PYTHONPATH"] = str(TESTS.parent)  # tests is a package
    full_env.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-p",
            "no:cacheprovider",
            # tests/conftest.py is the plugin above: not again as the conftest of a target
            # under tests/ (one module, two registrations: pytest refuses).
            f"--confcutdir={TESTS / 'devcp'}",
            "-rs",
            "-s",
            f"--rootdir={tmp_path}",
            *(targets or [str(tmp_path / "test_target.py")]),
        ],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize(
    ("env", "outcome"),
    [
        ({}, "1 skipped"),
        ({controlplane.REQUIRE_ENV: "1"}, "1 error"),
        ({"CI": "true"}, "1 error"),
    ],
    ids=["local-skips", "require-fails", "ci-fails"],
)
def test_missing_binaries_skip_locally_and_fail_in_ci(
    tmp_path: Path, env: dict[str, str], outcome: str
) -> None:
    env = {**env, "KUBEBUILDER_ASSETS": str(tmp_path / "no-such-dir")}
    result = _pytest(tmp_path, env)
    assert outcome in result.stdout, result.stdout + result.stderr
    assert "no control plane" in result.stdout
    assert "KUBEBUILDER_ASSETS" in result.stdout  # the reason is passed on, not swallowed
    assert result.returncode == (0 if outcome == "1 skipped" else 1)


def test_unreachable_kubeconfig_is_reported(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: x}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    result = _pytest(tmp_path, {"KUBECONFIG": str(kubeconfig), controlplane.REQUIRE_ENV: "1"})
    assert "1 error" in result.stdout, result.stdout + result.stderr
    assert "does not answer /readyz" in result.stdout


@pytest.mark.controlplane
def test_kubeconfig_points_the_suite_at_an_existing_cluster(tmp_path: Path) -> None:
    try:
        assets.require_assets()
    except AssetsNotFoundError as error:
        if controlplane.required():
            pytest.fail(str(error))
        pytest.skip(str(error))
    # Stand-in for kind/k3d: a plane started by `hardened dev up`, used only through KUBECONFIG.
    directory = tmp_path / "cluster"
    hardened = [sys.executable, "-m", "hardened_operator.cli", "dev"]
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    up = subprocess.run(
        [*hardened, "up", "--dir", str(directory), "--no-operator", "--no-build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert up.returncode == 0, up.stderr
    try:
        kubeconfig = str(directory / "kubeconfig")
        result = _pytest(
            tmp_path,
            {"KUBECONFIG": kubeconfig, controlplane.REQUIRE_ENV: "1"},
            str(tmp_path / "test_target.py"),
            str(TESTS / "devcp" / "test_rbac.py"),
            str(TESTS / "devcp" / "test_control_plane.py"),
        )
        server = (directory / "kubeconfig").read_text().split("server: ", 1)[1].split()[0]
        assert f"SERVER {server} EXTERNAL True" in result.stdout, result.stdout + result.stderr
        assert result.returncode == 0, result.stdout + result.stderr
        # Only what cannot apply to someone else's cluster is skipped, and says so.
        assert "2 skipped" in result.stdout, result.stdout
        assert "external cluster" in result.stdout
    finally:
        subprocess.run([*hardened, "down", "--dir", str(directory)], env=env, check=False)
