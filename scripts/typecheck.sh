#!/usr/bin/env bash
# mypy --strict over the package, the tests, bench/ and scripts/. Extra arguments go to every
# mypy run.
#
# tests/ is a package (tests/__init__.py, one per folder), so one run checks all of it: its
# modules are tests.<area>.<module>, two conftest.py never collide. bench/ is a folder of
# scripts that import each other by name, so it is a run of its own with itself on MYPYPATH.
# All runs share mypy's incremental cache. Every run goes ahead even when an earlier one
# fails; the script fails if any did and names them.
set -uo pipefail
cd "$(dirname "$0")/.."
mypy=.venv/bin/mypy
failed=()

check() { # check <name> <extra MYPYPATH> [mypy arguments...]
  local name=$1 path=$2
  shift 2
  echo "-- $name"
  if ! MYPYPATH=$path "$mypy" --strict "$@"; then
    failed+=("$name")
  fi
}

# The package: the files and options come from [tool.mypy] in pyproject.toml.
check operator/hardened_operator "" "$@"
check tests "" "$@" tests
check bench bench "$@" bench
check scripts "" "$@" scripts/*.py

if [ ${#failed[@]} -gt 0 ]; then
  echo "mypy --strict failed in: ${failed[*]}" >&2
  exit 1
fi
echo "mypy --strict: all clean"
