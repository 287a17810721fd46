"""Where the binaries come from, and how a build fills the cache (a fake ``go``: no minutes)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hardened_operator.dev import assets
from hardened_operator.errors import AssetsNotFoundError, ControlPlaneError

REPO = Path(__file__).resolve().parents[2]

# Stands in for `go`: "builds" by writing a script that answers --version like the real thing,
# logs each invocation, and fails when told to.
FAKE_GO = """#!/bin/sh
if [ "$1" = version ]; then echo "go version go1.26.8 fake/amd64"; exit 0; fi
echo "$*" >> "$FAKE_GO_LOG"
[ -n "$FAKE_GO_SLEEP" ] && sleep "$FAKE_GO_SLEEP"
for pkg; do :; done
[ "$pkg" = "$FAKE_GO_FAIL" ] && { echo "compile error in $pkg" >&2; exit 2; }
while [ $# -gt 0 ]; do [ "$1" = -o ] && out="$2"; shift; done
printf '#!/bin/sh\\necho "Kubernetes %s"\\n' "${FAKE_GO_REPORTS:-v1.37.2}" > "$out"
chmod +x "$out"
"""


def _executable(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_go(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has only the fake go, and an empty cache."""
    bin_dir = tmp_path / "bin"
    _executable(bin_dir / "go", FAKE_GO)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "HARDENED_CACHE_DIR": str(tmp_path / "cache"),
        "FAKE_GO_LOG": str(tmp_path / "go.log"),
    }


def test_kubebuilder_assets_wins_over_the_cache(tmp_path: Path) -> None:
    explicit, cache = tmp_path / "envtest", tmp_path / "cache"
    for directory in (explicit, cache / "assets" / assets.KUBERNETES_VERSION):
        _executable(directory / "kube-apiserver")
        _executable(directory / "etcd")
    env = {"KUBEBUILDER_ASSETS": str(explicit), "HARDENED_CACHE_DIR": str(cache)}
    found = assets.find_assets(env)
    assert found is not None
    assert (found.directory, found.source) == (explicit, "KUBEBUILDER_ASSETS")
    assert found.kubectl is None  # optional
    found = assets.find_assets({"HARDENED_CACHE_DIR": str(cache)})
    assert found is not None
    assert (found.directory, found.source) == (cache / "assets" / "v1.37.2", "cache")


def test_incomplete_kubebuilder_assets_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    _executable(tmp_path / "kube-apiserver")
    with pytest.raises(AssetsNotFoundError, match="lacks etcd"):
        assets.find_assets({"KUBEBUILDER_ASSETS": str(tmp_path)})


def test_cache_dir_default_and_override(tmp_path: Path) -> None:
    assert assets.cache_dir({}) == Path.home() / ".cache/hardened-operator/assets/v1.37.2"
    assert assets.cache_dir({"HARDENED_CACHE_DIR": str(tmp_path)}) == tmp_path / "assets/v1.37.2"


def test_no_go_and_no_assets_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "_GO_FALLBACK", tmp_path / "no-go")
    env = {"PATH": str(tmp_path), "HARDENED_CACHE_DIR": str(tmp_path / "cache")}
    with pytest.raises(AssetsNotFoundError) as error:
        assets.ensure_assets(env, log=lambda _: None)
    message = str(error.value)
    assert "no `go`" in message and "KUBEBUILDER_ASSETS" in message and "setup-envtest" in message
    with pytest.raises(AssetsNotFoundError, match="hardened dev build-assets"):
        assets.require_assets(env)


def test_go_is_found_in_usr_local_go_when_not_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fallback = _executable(tmp_path / "local-go" / "bin" / "go")
    monkeypatch.setattr(assets, "_GO_FALLBACK", fallback)
    assert assets.find_go({"PATH": str(tmp_path / "empty")}) == fallback


def test_build_fills_the_cache_with_stamped_binaries(fake_go: dict[str, str]) -> None:
    built = assets.build_assets(env=fake_go, log=lambda _: None)
    target = Path(fake_go["HARDENED_CACHE_DIR"]) / "assets" / "v1.37.2"
    assert built.directory == target
    assert sorted(p.name for p in target.iterdir()) == [
        "assets.json",
        "etcd",
        "kube-apiserver",
        "kubectl",
    ]
    calls = Path(fake_go["FAKE_GO_LOG"]).read_text().splitlines()
    assert [c.split()[-1] for c in calls] == [
        "k8s.io/kubernetes/cmd/kube-apiserver",
        "go.etcd.io/etcd/server/v3",
        "k8s.io/kubernetes/cmd/kubectl",
    ]
    for call in calls:
        assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in call
        assert "-X k8s.io/component-base/version.gitMinor=37" in call
    # Nothing but the finished directory and the lock is left next to it.
    assert sorted(p.name for p in target.parent.iterdir()) == [".v1.37.2.lock", "v1.37.2"]


def test_second_build_is_a_no_op(fake_go: dict[str, str]) -> None:
    assets.build_assets(env=fake_go, log=lambda _: None)
    log = Path(fake_go["FAKE_GO_LOG"])
    log.unlink()
    messages: list[str] = []
    assets.build_assets(env=fake_go, log=messages.append)
    assert not log.exists(), "a cached build must not call go again"
    assert any("already cached" in m for m in messages)


def test_failed_build_leaves_no_half_written_cache(fake_go: dict[str, str]) -> None:
    env = {**fake_go, "FAKE_GO_FAIL": "go.etcd.io/etcd/server/v3"}
    with pytest.raises(
        ControlPlaneError, match=re.escape("compile error in go.etcd.io/etcd/server/v3")
    ):
        assets.build_assets(env=env, log=lambda _: None)
    parent = Path(fake_go["HARDENED_CACHE_DIR"]) / "assets"
    assert [p.name for p in parent.iterdir()] == [".v1.37.2.lock"]
    assert assets.find_assets(env) is None


def test_binary_without_the_version_stamp_is_rejected(fake_go: dict[str, str]) -> None:
    env = {**fake_go, "FAKE_GO_REPORTS": "v0.0.0-master+$Format:%H$"}
    with pytest.raises(ControlPlaneError, match=re.escape("not v1.37.2")):
        assets.build_assets(env=env, log=lambda _: None)
    assert assets.find_assets(env) is None


def test_concurrent_builds_build_once(fake_go: dict[str, str]) -> None:
    env = {**fake_go, "FAKE_GO_SLEEP": "0.3"}
    errors: list[BaseException] = []

    def build() -> None:
        try:
            assets.build_assets(env=env, log=lambda _: None)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    calls = Path(fake_go["FAKE_GO_LOG"]).read_text().splitlines()
    assert len(calls) == 3, "three binaries, built once, although three builds were asked for"


def test_cli_build_assets_is_a_quick_no_op_when_cached(tmp_path: Path) -> None:
    cached = tmp_path / "cache" / "assets" / "v1.37.2"
    _executable(cached / "kube-apiserver")
    _executable(cached / "etcd")
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    env["HARDENED_CACHE_DIR"] = str(tmp_path / "cache")
    env["PATH"] = "/usr/bin:/bin"  # no go: proves it is not even needed
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", "dev", "build-assets"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert str(cached) in result.stderr
    assert time.monotonic() - started < 30


def test_go_module_ships_with_the_package() -> None:
    from importlib import resources

    module = resources.files("hardened_operator").joinpath("dev", "envtest")
    tools = module.joinpath("tools.go").read_text()
    for package in ("k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl"):
        assert f'_ "{package}"' in tools
    go_mod = module.joinpath("go.mod").read_text()
    assert "k8s.io/kubernetes v1.37.2" in go_mod
    assert "go.etcd.io/etcd/server/v3 v3.7.0" in go_mod
    pyproject = (REPO / "pyproject.toml").read_text()
    for name in ("go.mod", "go.sum", "tools.go"):
        assert f"dev/envtest/{name}" in pyproject, f"{name} must be package data"


def test_user_goflags_are_kept_but_cannot_unpin_the_module() -> None:
    flags = assets._goflags({"GOFLAGS": "-mod=mod -p=1 -buildvcs=true"}).split()
    assert flags == ["-p=1", "-mod=readonly", "-buildvcs=false"]
