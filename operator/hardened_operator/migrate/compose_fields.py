"""One compose service key → one HardenedService spec field (pure; notes for what is lost)."""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from hardened_operator import conventions
from hardened_operator.errors import ManifestParseError
from hardened_operator.migrate import units
from hardened_operator.migrate.compose_load import read_dotenv
from hardened_operator.migrate.notes import Note, NoteKind, show
from hardened_operator.model.names import ENV_VAR_NAME, is_port_name
from hardened_operator.model.quantity import parse_quantity
from hardened_operator.model.spec import MAX_GRACE_SECONDS

_ROOT_NAMES = ("0", "root")
_PROTOCOLS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}
# Environment variable names every supported API server (1.30+) accepts.
_ENV_NAME = re.compile(ENV_VAR_NAME)
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL"
)
# Compose defaults for a healthcheck (docker run's too).
_HEALTH_DEFAULTS = {"interval": "30s", "timeout": "30s", "retries": 3, "start_period": "0s"}


@dataclass
class Context:
    """The service being converted: where it came from and what we have noted so far."""

    service: str
    file: Path
    line: int
    notes: list[Note] = field(default_factory=list)

    def note(self, key: str, message: str, kind: NoteKind = "unmappable") -> None:
        self.notes.append(Note(self.service, key, message, kind))

    def warn(self, key: str, message: str) -> None:
        self.note(key, message, "warning")

    def fail(self, key: str, message: str) -> NoReturn:
        raise ManifestParseError(
            f"service {self.service!r}: {key}: {message}", file=str(self.file), line=self.line
        )


def command_list(ctx: Context, key: str, value: Any) -> list[str]:
    """``command``/``entrypoint``: a list as is; a string split like a shell (as compose does)."""
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            ctx.fail(key, f"cannot split {value!r}: {exc}")
    ctx.fail(key, f"must be a string or a list, not {type(value).__name__}")


# ---------------------------------------------------------------- user


def _id_or_none(part: str) -> int | None:
    return int(part) if part.isdigit() else None


def security_context(ctx: Context, value: Any) -> dict[str, int]:
    """``user`` → runAsUser/runAsGroup/fsGroup; root or unknown identities become 1000."""
    uid, gid = conventions.APP_UID, conventions.APP_GID
    if value is None:
        ctx.warn(
            "user",
            f"not set: compose runs the image's USER (root unless the image says otherwise); "
            f"using {uid}:{gid}",
        )
        return {"runAsUser": uid, "runAsGroup": gid, "fsGroup": gid}
    text = str(value).strip()
    user, colon, group = text.partition(":")
    if user in _ROOT_NAMES:
        ctx.warn("user", f"{text!r} is root; using {uid}")
    elif (number := _id_or_none(user)) is not None:
        uid = number
    elif user == conventions.APP_USER:
        ctx.warn("user", f"{user!r} is a name; using the seed's {user} = {uid}")
    else:
        ctx.warn("user", f"{user!r} is a name Kubernetes cannot resolve; using {uid}")
    if not colon:
        if uid != conventions.APP_UID:
            ctx.warn(
                "user", f"no group given (Docker would use the image's or root's); using {gid}"
            )
    elif group in _ROOT_NAMES:
        ctx.warn("user", f"group {group!r} is root; using {gid}")
    elif (number := _id_or_none(group)) is not None:
        gid = number
    else:
        ctx.warn("user", f"group {group!r} is a name Kubernetes cannot resolve; using {gid}")
    return {"runAsUser": uid, "runAsGroup": gid, "fsGroup": gid}


# ---------------------------------------------------------------- environment


def environment(
    ctx: Context, env_files: list[dict[str, Any]], inline: dict[str, Any]
) -> list[dict[str, str]]:
    """``env_file`` then ``environment`` (the latter wins) → Kubernetes ``env``."""
    merged: dict[str, Any] = {}
    for entry in env_files:
        path = Path(entry["path"])
        if not path.is_file():
            if entry.get("required", True) is False:
                ctx.warn("env_file", f"{path} does not exist (required: false); skipped")
            else:
                ctx.note("env_file", f"{path} does not exist; its variables are missing")
            continue
        merged.update(read_dotenv(path))
    merged.update(inline)
    env: list[dict[str, str]] = []
    for name, raw in merged.items():
        if raw is None:
            ctx.note("environment", f"{name} has no value (compose takes it from the shell)")
            continue
        if not _ENV_NAME.fullmatch(str(name)) or len(str(name)) > 256:
            ctx.note("environment", f"{name!r} is not a valid Kubernetes variable name")
            continue
        value = _scalar_text(raw)
        if value and _SECRET_NAME.search(name.upper()):
            ctx.warn(
                "environment",
                f"{name} looks like a secret and is now in the spec in plain text; "
                "move it to a Secret (envFrom/secretKeyRef)",
            )
        env.append({"name": str(name), "value": value})
    return env


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise ValueError(f"not a scalar: {value!r}")
    return str(value)


# ---------------------------------------------------------------- ports


def _port_entry(port: int, protocol: str) -> dict[str, Any]:
    return {"name": f"{protocol.lower()}-{port}", "containerPort": port, "protocol": protocol}


def _parse_port_number(ctx: Context, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        ctx.fail("ports", f"{text!r} is not a port number")
    return int(text)


def ports(ctx: Context, short_or_long: list[Any], expose: list[Any]) -> list[dict[str, Any]]:
    """``ports`` (short and long syntax) and ``expose`` → container ports of a ClusterIP Service."""
    result: list[dict[str, Any]] = []

    def add(port: int, protocol: str, name: str | None = None) -> None:
        if any(p["containerPort"] == port and p["protocol"] == protocol for p in result):
            return
        entry = _port_entry(port, protocol)
        if name is not None:
            if is_port_name(name):
                entry["name"] = name
            else:
                ctx.warn("ports", f"name {name!r} is not a valid port name; using {entry['name']}")
        result.append(entry)

    for item in short_or_long:
        if isinstance(item, dict):
            target = str(item.get("target", ""))
            protocol = _protocol(ctx, str(item.get("protocol", "tcp")))
            published = item.get("published")
            if "-" in target:
                ctx.note("ports", f"range {target!r}: a Service needs each port listed")
                continue
            if published not in (None, ""):
                _warn_published(ctx, str(published), target)
            for extra in ("mode", "host_ip", "app_protocol"):
                if extra in item:
                    ctx.note("ports", f"{extra}: {show(item[extra])} has no equivalent")
            name = item.get("name")
            add(_parse_port_number(ctx, target), protocol, str(name) if name else None)
            continue
        text = str(item)
        spec, _, proto = text.partition("/")
        protocol = _protocol(ctx, proto or "tcp")
        host, container = _split_host_container(spec)
        if "-" in container:
            ctx.note("ports", f"range {text!r}: a Service needs each port listed")
            continue
        if host:
            _warn_published(ctx, host, container)
        add(_parse_port_number(ctx, container), protocol)
    for item in expose:
        spec, _, proto = str(item).partition("/")
        if "-" in spec:
            ctx.note("expose", f"range {item!r}: a Service needs each port listed")
            continue
        add(_parse_port_number(ctx, spec), _protocol(ctx, proto or "tcp"))
    return result


def _split_host_container(spec: str) -> tuple[str, str]:
    """``[ip:][host:]container`` (IPv6 ip in brackets) → (host part, container port)."""
    if spec.startswith("["):
        _, _, spec = spec.partition("]")
        spec = spec.lstrip(":")
    host, _, container = spec.rpartition(":")
    return host, container


def _warn_published(ctx: Context, host: str, container: str) -> None:
    ctx.warn(
        "ports",
        f"{host} → {container}: published on the host in compose; the Service exposes "
        f"{container} inside the cluster only (use an Ingress or a LoadBalancer from outside)",
    )


def _protocol(ctx: Context, text: str) -> str:
    protocol = _PROTOCOLS.get(text.lower())
    if protocol is None:
        ctx.fail("ports", f"unknown protocol {text!r}")
    return protocol


# ---------------------------------------------------------------- healthcheck


def probes(ctx: Context, health: Any) -> dict[str, Any] | None:
    """``healthcheck`` → startup, liveness and readiness exec probes; ``None`` when disabled."""
    if not isinstance(health, dict):
        ctx.fail("healthcheck", "must be a mapping")
    test = health.get("test")
    if health.get("disable") is True or test == ["NONE"] or test == "NONE":
        ctx.warn("healthcheck", "disabled in compose; the operator's default probes apply")
        return None
    if test is None:
        ctx.note("healthcheck", "no `test` (inherits the image's HEALTHCHECK, which is not read)")
        return None
    if isinstance(test, str):
        command = ["/bin/sh", "-c", test]
    elif isinstance(test, list) and test and test[0] == "CMD" and len(test) > 1:
        command = [str(part) for part in test[1:]]
    elif isinstance(test, list) and test and test[0] == "CMD-SHELL" and len(test) > 1:
        command = ["/bin/sh", "-c", " ".join(str(part) for part in test[1:])]
    else:
        ctx.fail("healthcheck", f"test must be a string or start with CMD/CMD-SHELL: {show(test)}")
    timings = {**_HEALTH_DEFAULTS, **{k: v for k, v in health.items() if v is not None}}
    try:
        interval = units.whole_seconds(timings["interval"])
        timeout = units.whole_seconds(timings["timeout"])
        start_period = units.duration_seconds(timings["start_period"])
        start_interval = units.whole_seconds(timings.get("start_interval", timings["interval"]))
        retries = int(timings["retries"])
    except (ValueError, TypeError) as exc:
        ctx.fail("healthcheck", str(exc))
    if retries < 1:
        ctx.fail("healthcheck", f"retries must be at least 1, not {retries}")
    base = {"exec": {"command": command}, "timeoutSeconds": timeout}
    # Docker ignores failures during start_period, then needs `retries` failures in a row:
    # the startup probe must tolerate both before the kubelet gives up.
    startup_threshold = math.ceil(start_period / Decimal(start_interval)) + retries
    return {
        "startup": {**base, "periodSeconds": start_interval, "failureThreshold": startup_threshold},
        "liveness": {**base, "periodSeconds": interval, "failureThreshold": retries},
        "readiness": {**base, "periodSeconds": interval, "failureThreshold": retries},
    }


# ---------------------------------------------------------------- resources and GPUs


@dataclass
class Resources:
    limits: dict[str, str] = field(default_factory=dict)
    requests: dict[str, str] = field(default_factory=dict)
    gpu_count: int = 0

    def as_spec(self) -> dict[str, dict[str, str]]:
        spec: dict[str, dict[str, str]] = {}
        if self.limits:
            spec["limits"] = self.limits
        if self.requests:
            spec["requests"] = self.requests
        return spec


def _set_quantity(ctx: Context, target: dict[str, str], key: str, kind: str, value: Any) -> None:
    try:
        if kind == "cpu":
            quantity, rounded = units.cpu_quantity(value)
            if rounded:
                ctx.warn(
                    key, f"cpus {value!r} rounded up to {quantity} (Kubernetes counts millicores)"
                )
        else:
            quantity = units.memory_quantity(value)
    except ValueError as exc:
        ctx.fail(key, str(exc))
    target[kind] = quantity


def resources(ctx: Context, service: dict[str, Any]) -> Resources:
    """``deploy.resources`` (v3) and ``mem_limit``/``cpus``/``mem_reservation`` (v2)."""
    result = Resources()
    for key, target, kind in (
        ("cpus", result.limits, "cpu"),
        ("mem_limit", result.limits, "memory"),
        ("mem_reservation", result.requests, "memory"),
    ):
        if service.get(key) not in (None, "", 0, "0"):
            _set_quantity(ctx, target, key, kind, service[key])
    deploy = service.get("deploy") or {}
    spec = deploy.get("resources") or {}
    for section, target in (("limits", result.limits), ("reservations", result.requests)):
        block = spec.get(section) or {}
        for key, value in block.items():
            where = f"deploy.resources.{section}.{key}"
            if key == "cpus":
                _set_quantity(ctx, target, where, "cpu", value)
            elif key == "memory":
                _set_quantity(ctx, target, where, "memory", value)
            elif key == "devices" and section == "reservations":
                result.gpu_count += _gpu_devices(ctx, where, value)
            else:
                ctx.note(where, f"{show(value)} has no equivalent")
    _check_requests_within_limits(ctx, result)
    gpus = service.get("gpus")
    if gpus is not None:
        result.gpu_count += _gpu_devices(ctx, "gpus", gpus)
    runtime = service.get("runtime")
    if runtime == "nvidia":
        if result.gpu_count == 0:
            visible = _visible_devices(service.get("environment") or {})
            result.gpu_count = len(visible) if visible else 1
            if not visible:
                ctx.warn(
                    "runtime",
                    "nvidia exposes every GPU NVIDIA_VISIBLE_DEVICES allows (all by default); "
                    "requesting 1 (set spec.gpu.count)",
                )
        else:
            # Never dropped silently: say that the devices, not the runtime, set the count.
            ctx.warn(
                "runtime",
                f"nvidia: gpu.count {result.gpu_count} comes from the GPU requests "
                "(deploy devices, gpus); no gpu.runtimeClassName is set (set it to nvidia "
                "if your cluster needs that RuntimeClass)",
            )
    elif runtime not in (None, "runc"):
        ctx.note("runtime", f"{runtime!r} has no equivalent (use a RuntimeClass)")
    return result


def _visible_devices(env: dict[str, Any]) -> list[str]:
    value = str(env.get("NVIDIA_VISIBLE_DEVICES") or "")
    if value in ("", "all", "none", "void"):
        return []
    return [part for part in value.split(",") if part.strip()]


def _gpu_devices(ctx: Context, where: str, devices: Any) -> int:
    if devices == "all":
        ctx.warn(where, "all GPUs of the host: Kubernetes needs a number; requesting 1")
        return 1
    if not isinstance(devices, list):
        ctx.fail(where, "must be a list of device requests")
    count = 0
    for device in devices:
        if not isinstance(device, dict):
            ctx.fail(where, f"device request must be a mapping: {show(device)}")
        capabilities = [str(c) for c in device.get("capabilities") or []]
        driver = device.get("driver")
        if driver not in (None, "nvidia") or (capabilities and "gpu" not in capabilities):
            ctx.note(where, f"device request {show(device)} is not an NVIDIA GPU")
            continue
        if "device_ids" in device:
            ids = device["device_ids"] or []
            ctx.warn(
                where,
                f"device_ids {show(ids)}: specific GPUs cannot be chosen; requesting {len(ids)}",
            )
            count += len(ids)
        elif device.get("count", "all") == "all":
            ctx.warn(where, "count: all (every GPU of the host): requesting 1 (set spec.gpu.count)")
            count += 1
        else:
            try:
                number = int(device["count"])
            except (TypeError, ValueError):
                ctx.fail(where, f"count must be a number or 'all': {show(device['count'])}")
            if number < 0:
                ctx.fail(where, f"count must not be negative: {number}")
            count += number
        for extra in ("options",):
            if device.get(extra):
                ctx.note(where, f"{extra} {show(device[extra])} has no equivalent")
    return count


def _check_requests_within_limits(ctx: Context, result: Resources) -> None:
    for kind in ("cpu", "memory"):
        if kind in result.limits and kind in result.requests:
            limit = parse_quantity(result.limits[kind])
            request = parse_quantity(result.requests[kind])
            if request > limit:
                ctx.fail(
                    "deploy.resources",
                    f"{kind} reservation {result.requests[kind]} exceeds the limit "
                    f"{result.limits[kind]} (Kubernetes rejects requests above limits)",
                )


def grace_period(ctx: Context, value: Any) -> int:
    try:
        seconds = units.whole_seconds(value, minimum=0)
    except ValueError as exc:
        ctx.fail("stop_grace_period", str(exc))
    if seconds > MAX_GRACE_SECONDS:
        ctx.warn(
            "stop_grace_period",
            f"{show(value)} is above the maximum; using {MAX_GRACE_SECONDS} seconds",
        )
        return MAX_GRACE_SECONDS
    return seconds
