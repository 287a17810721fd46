#!/usr/bin/env bash
# Run the whole test suite. On a fresh machine this sets up .venv and builds the local
# control plane's binaries once (cached; docs/dev.md).
# Extra arguments go to pytest, e.g. scripts/test.sh -k policy
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ -z "${KUBECONFIG:-}" ]; then
  # Without Go (and no cache) the control-plane tests skip locally; in CI they must run.
  # The local node (tests/node) runs as root only; its binaries are built beside the plane's.
  node_flag=()
  if [ "$(id -u)" = 0 ]; then node_flag=(--node); fi
  if ! .venv/bin/hardened dev build-assets "${node_flag[@]}"; then
    if [ "${HARDENED_REQUIRE_CONTROL_PLANE:-}" = 1 ] || [ "${CI:-}" = true ]; then exit 1; fi
    echo "warning: no control-plane binaries (see docs/dev.md); those tests will be skipped" >&2
  fi
fi
exec .venv/bin/python -m pytest "$@"
