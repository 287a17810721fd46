#!/usr/bin/env bash
# mypy --strict over the package, the tests and bench/. Extra arguments go to every mypy run.
#
# Test directories are not packages and share module names (a conftest.py in several), so one
# run over tests/ stops at "duplicate module named conftest". Each directory is therefore its own
# run, with itself and tests/ (for the `support` package) on MYPYPATH. All runs share mypy's
# incremental cache, so a warm run only re-checks what changed. Every run goes ahead even when
# an earlier one fails; the script fails if any did and names them.
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
check "tests/*.py" tests "$@" tests/*.py
for dir in tests/*/; do
  dir=${dir%/}
  compgen -G "$dir/*.py" >/dev/null || continue # __pycache__, data-only directories
  if [ -f "$dir/__init__.py" ]; then
    check "$dir" tests "$@" "$dir" # a package (tests/support): importable from tests/
  else
    check "$dir" "tests:$dir" "$@" "$dir"
  fi
done
check bench bench "$@" bench
check scripts "" "$@" scripts/*.py

if [ ${#failed[@]} -gt 0 ]; then
  echo "mypy --strict failed in: ${failed[*]}" >&2
  exit 1
fi
echo "mypy --strict: all clean"
