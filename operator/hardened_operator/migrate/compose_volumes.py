"""Compose ``volumes``/``tmpfs`` → the four standard HardenedService volumes (or a note)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from hardened_operator import conventions
from hardened_operator.migrate.compose_fields import Context
from hardened_operator.migrate.notes import show

STANDARD_TARGETS = {f"{conventions.APP_ROOT}/{d}": d for d in conventions.APP_DIRS}


@dataclass(frozen=True)
class Mount:
    kind: str  # volume | bind | tmpfs | other
    source: str  # volume name, host path, or "" (anonymous / tmpfs)
    target: str
    read_only: bool
    text: str  # as written, for messages


def _is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~", "$")) or (len(source) > 1 and source[1] == ":")


def parse_mount(ctx: Context, item: Any) -> Mount | None:
    if isinstance(item, dict):
        kind = str(item.get("type", "volume"))
        source = str(item.get("source") or "")
        target = str(item.get("target") or "")
        if not target:
            ctx.fail("volumes", f"mount without a target: {show(item)}")
        extras = sorted(set(item) - {"type", "source", "target", "read_only"})
        for extra in extras:
            ctx.note("volumes", f"{target}: {extra} {show(item[extra])} has no equivalent")
        mapped = kind if kind in ("volume", "bind", "tmpfs") else "other"
        return Mount(mapped, source, _clean(target), bool(item.get("read_only")), repr(item))
    text = str(item)
    parts = text.split(":")
    # A Windows drive letter ("C:\\data:/app/data") splits into one part too many.
    if len(parts) > 2 and len(parts[0]) == 1 and parts[0].isalpha():
        parts = [f"{parts[0]}:{parts[1]}", *parts[2:]]
    if len(parts) == 1:
        return Mount("volume", "", _clean(parts[0]), False, text)
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) > 2 else []
    for option in options:
        if option not in ("ro", "rw", "z", "Z", "nocopy", "cached", "delegated", "consistent"):
            ctx.note("volumes", f"{text}: option {option!r} has no equivalent")
    kind = "bind" if _is_host_path(source) else "volume"
    return Mount(kind, source, _clean(target), "ro" in options, text)


def _clean(target: str) -> str:
    return posixpath.normpath(target) if target else target


def standard_volumes(
    ctx: Context, mounts: list[Mount], tmpfs: Any, project_volumes: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Which of logs/data/models/cache the service mounts; the rest are disabled."""
    enabled: set[str] = set()
    for mount in mounts:
        standard = STANDARD_TARGETS.get(mount.target)
        if mount.kind == "tmpfs":
            _tmpfs(ctx, mount.target)
            continue
        if standard is None:
            what = {"bind": "bind mount of the host", "volume": "named volume"}.get(
                mount.kind, f"{mount.kind} mount"
            )
            ctx.note("volumes", f"{mount.text}: {what} at {mount.target} has no equivalent")
            continue
        enabled.add(standard)
        if mount.kind == "bind":
            ctx.note(
                "volumes",
                f"{mount.text}: host directory {mount.source} is not copied; "
                f"{mount.target} becomes an empty persistent volume",
            )
        elif mount.kind == "other":
            ctx.note("volumes", f"{mount.text}: volume type has no equivalent; using a claim")
        elif not mount.source:
            ctx.warn("volumes", f"{mount.target}: anonymous volume becomes a persistent claim")
        else:
            declared = project_volumes.get(mount.source) or {}
            if isinstance(declared, dict) and declared.get("external"):
                ctx.warn(
                    "volumes",
                    f"{mount.source} is external: its data is not migrated to the new claim",
                )
        if mount.read_only:
            ctx.warn("volumes", f"{mount.target} is read-only in compose; mounted read-write")
    for item in tmpfs if isinstance(tmpfs, list) else ([tmpfs] if tmpfs else []):
        _tmpfs(ctx, _clean(str(item).partition(":")[0]))
    return {d: {"enabled": d in enabled} for d in conventions.APP_DIRS}


def _tmpfs(ctx: Context, target: str) -> None:
    # /tmp is always a writable emptyDir in a HardenedService; anything else is not.
    if target != "/tmp":
        ctx.note("tmpfs", f"{target}: only /tmp is a writable scratch directory")
