"""Benchmark: ``hardened audit`` vs checkov on 1000 mixed manifests, and who catches what.

Usage: ``.venv/bin/python bench/bench_audit.py [--files N] [--repeat N]``

* Generates N (default 1000) manifests into a temp dir with a fixed seed: every pod-bearing
  kind, compliant and non-compliant, the tricky cases, plus Services and ConfigMaps.
* Times the whole process ``hardened audit DIR --format json`` (median of --repeat runs) and
  ``checkov -d DIR --framework kubernetes --skip-download --compact --quiet -o json`` (once; it
  is the slow side), on the same files. Target: hardened >= 50x faster.
* Tricky cases: each case is a pair of files that differ only in the tricky field (a root
  variant and its compliant control). A tool *catches* the case when some check fails on the
  variant and not on the control: measured by running both tools, never assumed.

checkov lives in its own venv, ``${HARDENED_CACHE_DIR:-~/.cache/hardened-operator}/bench-venvs/
checkov``, created here with pip when missing. It is a benchmark baseline, not a dependency.
Prints ratios, then a markdown section after ``<!-- bench:section -->`` (see bench/run.py).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HARDENED = ROOT / ".venv" / "bin" / "hardened"
TARGET_SPEEDUP = 50.0
SEED = 20261128
MARKER = "<!-- bench:section -->"

Obj = dict[str, Any]

# ---------------------------------------------------------------------------- manifests

_API = {"Pod": "v1", "PodTemplate": "v1", "ReplicationController": "v1", "Job": "batch/v1"}
_API["CronJob"] = "batch/v1"
KINDS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
)


def wrap(kind: str, spec: Obj, name: str) -> Obj:
    """A pod spec as the pod (template) of ``kind``."""
    meta = {"name": name, "namespace": "bench"}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    obj: Obj = {"apiVersion": _API.get(kind, "apps/v1"), "kind": kind, "metadata": meta}
    if kind == "Pod":
        obj["spec"] = spec
    elif kind == "PodTemplate":
        obj["template"] = template
    elif kind == "CronJob":
        obj["spec"] = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        obj["spec"] = {"selector": {"matchLabels": {"app": name}}, "template": template}
    return obj


def hardened_container(name: str) -> Obj:
    return {
        "name": name,
        "image": "registry.example/app@sha256:" + "ab" * 32,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "resources": {"limits": {"cpu": "1", "memory": "256Mi"}},
    }


def compliant_spec(containers: int = 1) -> Obj:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [hardened_container(f"c{i}") for i in range(containers)],
    }


# Each root mutation really runs something as UID 0 (a runAsNonRoot: true left next to
# runAsUser: 0 would only make the kubelet refuse to start the container).
def _as_root(security_context: Obj) -> None:
    security_context["runAsNonRoot"] = False
    security_context["runAsUser"] = 0


def _init_root(spec: Obj) -> None:
    init = hardened_container("init")
    _as_root(init["securityContext"])
    spec["initContainers"] = [init]


def _container_override(spec: Obj) -> None:
    _as_root(spec["containers"][0]["securityContext"])


def _ephemeral_root(spec: Obj) -> None:
    debug = hardened_container("debugger")
    _as_root(debug["securityContext"])
    spec["ephemeralContainers"] = [debug]


def _pod_root(spec: Obj) -> None:
    del spec["securityContext"]["runAsNonRoot"]
    spec["securityContext"]["runAsUser"] = 0


def _host_users_uid0(spec: Obj) -> None:
    spec["hostUsers"] = False
    _pod_root(spec)


def _privileged(spec: Obj) -> None:
    spec["containers"][-1]["securityContext"]["privileged"] = True


def _no_non_root(spec: Obj) -> None:
    del spec["securityContext"]["runAsNonRoot"]


def _escalation(spec: Obj) -> None:
    spec["containers"][-1]["securityContext"]["allowPrivilegeEscalation"] = True


def _caps(spec: Obj) -> None:
    spec["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]


MUTATIONS: dict[str, Callable[[Obj], None]] = {
    "pod-root": _pod_root,
    "init-root": _init_root,
    "container-override": _container_override,
    "ephemeral-root": _ephemeral_root,
    "hostusers-false-uid0": _host_users_uid0,
    "privileged": _privileged,
    "no-runasnonroot": _no_non_root,
    "escalation": _escalation,
    "caps-add": _caps,
}


def generate(directory: Path, count: int, seed: int = SEED) -> dict[str, int]:
    """``count`` one-object files; returns how many of each flavour were written."""
    rng = random.Random(seed)
    tally: dict[str, int] = {}
    for index in range(count):
        roll = rng.random()
        if roll < 0.08:
            flavour = "service-or-configmap"
            obj: Obj = rng.choice(
                [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": f"s{index}", "namespace": "bench"},
                        "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}},
                    },
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"cm{index}", "namespace": "bench"},
                        "data": {"a": "b"},
                    },
                ]
            )
        else:
            kind = rng.choice(KINDS)
            spec = compliant_spec(rng.randint(1, 3))
            if roll < 0.45:
                flavour = f"compliant {kind}"
            else:
                mutation = rng.choice(sorted(MUTATIONS))
                MUTATIONS[mutation](spec)
                flavour = mutation
            obj = wrap(kind, spec, f"w{index}")
        tally[flavour.split()[0]] = tally.get(flavour.split()[0], 0) + 1
        (directory / f"m{index:04d}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
    return tally


# Tricky cases: (label, kind, mutation). Each becomes a variant file and a control file.
TRICKY: tuple[tuple[str, str, str], ...] = (
    ("pod-level runAsUser: 0 (the plain case)", "Pod", "pod-root"),
    ("init container runs as root", "Pod", "init-root"),
    ("container overrides a compliant pod", "Pod", "container-override"),
    ("ephemeral container runs as root", "Pod", "ephemeral-root"),
    ("workload template: Deployment, init container root", "Deployment", "init-root"),
    ("workload template: StatefulSet, container override", "StatefulSet", "container-override"),
    ("workload template: PodTemplate, init container root", "PodTemplate", "init-root"),
    ("CronJob (jobTemplate), pod runAsUser: 0", "CronJob", "pod-root"),
    ("CronJob (jobTemplate), init container root", "CronJob", "init-root"),
    ("hostUsers: false + runAsUser: 0", "Pod", "hostusers-false-uid0"),
)


def write_tricky(directory: Path) -> list[tuple[str, str, str]]:
    """Variant/control pairs; returns (label, variant file name, control file name)."""
    pairs = []
    for index, (label, kind, mutation) in enumerate(TRICKY):
        control = compliant_spec(1)
        variant = copy.deepcopy(control)
        MUTATIONS[mutation](variant)
        if mutation in ("init-root", "ephemeral-root"):  # the control has the same extra container
            control = copy.deepcopy(variant)
            extra = "initContainers" if mutation == "init-root" else "ephemeralContainers"
            control[extra][0]["securityContext"].update(runAsNonRoot=True, runAsUser=1000)
        if mutation == "hostusers-false-uid0":
            control["hostUsers"] = False
        names = (f"t{index:02d}-variant.yaml", f"t{index:02d}-control.yaml")
        for name, spec in zip(names, (variant, control), strict=True):
            (directory / name).write_text(
                yaml.safe_dump(wrap(kind, spec, f"t{index}"), sort_keys=False)
            )
        pairs.append((label, names[0], names[1]))
    return pairs


# ---------------------------------------------------------------------------- tools


def cache_dir() -> Path:
    base = os.environ.get("HARDENED_CACHE_DIR") or str(Path.home() / ".cache" / "hardened-operator")
    return Path(base) / "bench-venvs" / "checkov"


def ensure_checkov() -> Path:
    venv = cache_dir()
    exe = venv / "bin" / "checkov"
    if not exe.exists():
        print(f"installing checkov into {venv} (one time) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "checkov"], check=True
        )
    return exe


def checkov_version(exe: Path) -> str:
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


LAST_CPU: list[float] = []  # CPU seconds (user + sys, all descendants) of the last run_timed


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(
    cmd: list[str], cwd: Path | None = None
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of the whole process; its CPU seconds are left in LAST_CPU."""
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd)
    wall = time.perf_counter() - start
    LAST_CPU[:] = [_children_cpu() - cpu]
    return wall, proc


def hardened_cmd(directory: Path) -> list[str]:
    return [str(HARDENED), "audit", str(directory), "--format", "json"]


def checkov_cmd(exe: Path, directory: Path) -> list[str]:
    return [
        str(exe),
        "-d",
        str(directory),
        "--framework",
        "kubernetes",
        "--skip-download",
        "--compact",
        "--quiet",
        "-o",
        "json",
    ]


def hardened_failures(proc: subprocess.CompletedProcess[str]) -> dict[str, set[str]]:
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"hardened audit failed ({proc.returncode}): {proc.stderr[-2000:]}")
    failures: dict[str, set[str]] = {}
    for entry in json.loads(proc.stdout or "[]"):
        failures.setdefault(Path(entry["file"]).name, set()).add(entry["check"])
    return failures


def checkov_failures(proc: subprocess.CompletedProcess[str]) -> dict[str, set[str]]:
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"checkov failed ({proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(proc.stdout)
    reports = data if isinstance(data, list) else [data]
    failures: dict[str, set[str]] = {}
    for report in reports:
        results = report.get("results", {}) if isinstance(report, dict) else {}
        for check in results.get("failed_checks", []):
            name = Path(check.get("file_path", "")).name
            failures.setdefault(name, set()).add(str(check.get("check_id")))
    return failures


def caught(failures: dict[str, set[str]], variant: str, control: str) -> tuple[bool, list[str]]:
    extra = sorted(failures.get(variant, set()) - failures.get(control, set()))
    return bool(extra), extra


# ---------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if not HARDENED.exists():
        print(f"{HARDENED} is missing: run scripts/setup.sh", file=sys.stderr)
        return 1
    checkov = ensure_checkov()
    version = checkov_version(checkov)

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        mixed = Path(tmp) / "mixed"
        tricky = Path(tmp) / "tricky"
        mixed.mkdir()
        tricky.mkdir()
        tally = generate(mixed, args.files)
        pairs = write_tricky(tricky)

        run_timed(hardened_cmd(mixed))  # warm the page cache and .pyc files once
        load = os.getloadavg()[0]
        hardened_times: list[float] = []
        hardened_cpu: list[float] = []

        def time_hardened(runs: int) -> subprocess.CompletedProcess[str]:
            proc = None
            for _ in range(runs):
                seconds, proc = run_timed(hardened_cmd(mixed))
                hardened_failures(proc)  # raises if the run did not work
                hardened_times.append(seconds)
                hardened_cpu.append(LAST_CPU[0])
            assert proc is not None
            return proc

        # half of our runs before checkov and half after, so that a change in the machine's
        # load during the long checkov run weighs on both sides
        time_hardened((args.repeat + 1) // 2)
        checkov_seconds, checkov_proc = run_timed(checkov_cmd(checkov, mixed))
        checkov_cpu = LAST_CPU[0]
        checkov_failures(checkov_proc)
        flagged = len(hardened_failures(time_hardened(max(1, args.repeat // 2))))

        ours = hardened_failures(run_timed(hardened_cmd(tricky))[1])
        theirs = checkov_failures(run_timed(checkov_cmd(checkov, tricky))[1])

    hardened_median = statistics.median(hardened_times)
    hardened_cpu_median = statistics.median(hardened_cpu)
    ratio = checkov_seconds / hardened_median
    cpu_ratio = checkov_cpu / hardened_cpu_median
    met = ratio >= TARGET_SPEEDUP
    verdict = "met" if met else "NOT met"
    print(f"hardened audit: median {hardened_median:.3f} s wall, {hardened_cpu_median:.3f} s CPU")
    print(f"checkov {version}: {checkov_seconds:.2f} s wall, {checkov_cpu:.2f} s CPU")
    print(f"speed-up: {ratio:.1f}x wall (target >= {TARGET_SPEEDUP:.0f}x: {verdict})")
    print(f"speed-up: {cpu_ratio:.1f}x CPU")

    rows = []
    for label, variant, control in pairs:
        ours_ok, ours_checks = caught(ours, variant, control)
        theirs_ok, theirs_checks = caught(theirs, variant, control)
        rows.append(
            f"| {label} | {'yes' if ours_ok else '**no**'} ({', '.join(ours_checks) or '-'}) "
            f"| {'yes' if theirs_ok else '**no**'} ({', '.join(theirs_checks) or '-'}) |"
        )
    mix = ", ".join(f"{k}: {v}" for k, v in sorted(tally.items()))
    section = [
        MARKER,
        f"{args.files} one-object manifests (seed {SEED}; {mix}), whole process, same files.",
        "",
        "| tool | command | wall time | CPU time |",
        "| --- | --- | --- | --- |",
        f"| hardened audit | `hardened audit DIR --format json` | {hardened_median:.3f} s "
        f"(median of {len(hardened_times)}) | {hardened_cpu_median:.3f} s |",
        f"| checkov {version} | `checkov -d DIR --framework kubernetes --skip-download --compact "
        f"--quiet -o json` | {checkov_seconds:.2f} s | {checkov_cpu:.2f} s |",
        "",
        f"**Speed-up: {ratio:.1f}x wall-clock** (target >= {TARGET_SPEEDUP:.0f}x: {verdict}); "
        f"{cpu_ratio:.1f}x in CPU time. Load average at the start: {load:.1f} on "
        f"{os.cpu_count()} cores (a shared machine inflates both wall times; CPU time is the "
        f"steadier comparison). hardened flagged {flagged} files.",
        "",
        "Tricky cases. Each case is a variant that really runs a container as UID 0 and a",
        "compliant control differing only there; *caught* means some check fails on the variant",
        "and not on the control (check ids in brackets), from running both tools on those files",
        "in this run. Root variants set `runAsNonRoot: false` + `runAsUser: 0` on the container,",
        "or `runAsUser: 0` on a pod without `runAsNonRoot`.",
        "",
        "| case | hardened audit | checkov |",
        "| --- | --- | --- |",
        *rows,
    ]
    print("\n".join(section))
    return 0  # a missed target is a result to record, not a failure to run


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
