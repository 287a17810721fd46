#!/usr/bin/env bash
# Run the whole test suite. On a fresh machine this sets up .venv and builds the local
# control plane's binaries once (cached; see README "Local control plane").
# Extra arguments go to pytest, e.g. scripts/test.sh -k policy
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ -z "${KUBECONFIG:-}" ]; then
  .venv/bin/hardened dev build-assets
fi
if [ -z "${PSA_FIXTURES:-}" ] && [ -d ../shared/conformance/pod-security ]; then
  PSA_FIXTURES="$(cd ../shared/conformance/pod-security && pwd)"
  export PSA_FIXTURES
fi
exec .venv/bin/python -m pytest "$@"
