#!/usr/bin/env bash
# Set up a development environment from the package registries: .venv with the project
# (editable) and its test tools. Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Progress: one line per step with its time, so a minute of pip is not a silent minute; on a
# terminal pip also shows its own progress bars, in CI logs (not a TTY) it stays quiet.
started=$SECONDS
step() { echo "setup: $*" >&2; }
quiet=(-q)
if [ -t 2 ] && [ "${CI:-}" != true ]; then quiet=(--progress-bar on); fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  step "installing the project and its test tools into .venv (pip, about a minute the first time) ..."
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install "${quiet[@]}" -e '.[test]'
  rm -f .venv/.installed-* && touch "$stamp"
  step ".venv ready after $((SECONDS - started))s"
fi

# The local node (`hardened dev up --node`, tests/node) needs Debian's CNI plugins, a static
# busybox (the test images' userland), libseccomp's headers (runc is built with seccomp) and
# ipset (kube-router, the node's NetworkPolicy enforcer, keeps its address sets in it).
node_packages=()
for package in containernetworking-plugins busybox-static libseccomp-dev pkg-config ipset; do
  dpkg -s "$package" >/dev/null 2>&1 || node_packages+=("$package")
done
if [ ${#node_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${node_packages[*]} (apt-get) for the local node" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${node_packages[@]}" >/dev/null
    step "node packages installed after $((SECONDS - started))s"
  else
    echo "setup: note: the local node needs ${node_packages[*]} (apt-get install as root)" >&2
  fi
fi
