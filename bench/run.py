"""Run every benchmark and write docs/benchmarks.md.

Usage: ``.venv/bin/python bench/run.py [NAME ...]``
(names: policy, webhook, e2e, audit, audit_cluster, operator, node).
Each ``bench/bench_<name>.py`` measures its own baseline in the same run and prints a markdown
section on stdout (everything after a line ``<!-- bench:section -->``); this script stitches the
sections together with the date and the machine they were measured on.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARKER = "<!-- bench:section -->"
ALL = ("policy", "webhook", "e2e", "audit", "audit_cluster", "operator", "reports", "node")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem_gib:.0f} GiB, Python {platform.python_version()}"
    )


def run_one(name: str) -> tuple[bool, str]:
    script = HERE / f"bench_{name}.py"
    if not script.exists():
        return False, f"`{script.name}` does not exist."
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    sys.stderr.write(proc.stderr)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        return False, f"`{script.name}` failed with exit code {proc.returncode}."
    section = proc.stdout.split(MARKER, 1)[1] if MARKER in proc.stdout else proc.stdout
    return True, section.strip()


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "# Benchmarks",
        "",
        f"Measured {today} on {machine()} with `.venv/bin/python bench/run.py`.",
        "Every ratio compares against a baseline measured in the same run, on the same machine.",
        "",
    ]
    failed = []
    for name in names:
        ok, section = run_one(name)
        parts += [f"## {name}", "", section, ""]
        if not ok:
            failed.append(name)
    if not argv:  # only a full run rewrites the document
        (ROOT / "docs" / "benchmarks.md").write_text("\n".join(parts))
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
