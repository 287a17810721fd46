"""docker-compose services → HardenedService objects (``hardened convert``).

Every service key is either mapped (``compose_fields``, ``compose_volumes``), known to be
already implied by a HardenedService (e.g. ``cap_drop: [ALL]``), or reported as a ``Note``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardened_operator import API_GROUP, API_VERSION, KIND
from hardened_operator.errors import ConversionError, SpecValidationError
from hardened_operator.migrate import compose_fields as fields
from hardened_operator.migrate import names
from hardened_operator.migrate.compose_load import Project, Service, load_project
from hardened_operator.migrate.compose_volumes import parse_mount, standard_volumes
from hardened_operator.migrate.notes import Note, show
from hardened_operator.model.names import is_label_key, is_label_value
from hardened_operator.model.validation import parse

CONVERTED_FROM = f"{API_GROUP}/converted-from"
DEBUG_PROFILE = "debug"
_RESERVED_LABEL_DOMAINS = ("kubernetes.io", "k8s.io", API_GROUP)
_MAX_ENTRIES = 64  # podLabels / podAnnotations (the CRD's bound)

# Keys whose whole meaning is already part of every HardenedService, or that only matter to
# compose itself: nothing is lost by not carrying them over.
_IMPLIED: dict[str, Any] = {
    "read_only": True,  # the root filesystem is read-only by default
    "privileged": False,
    "stdin_open": None,
    "tty": None,
}
# Keys with a faithful mapping, handled below.
_MAPPED = {
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "user",
    "deploy",
    "cpus",
    "mem_limit",
    "mem_reservation",
    "runtime",
    "gpus",
    "healthcheck",
    "volumes",
    "tmpfs",
    "profiles",
    "labels",
    "scale",
    "stop_grace_period",
    "security_opt",
    "cap_drop",
}
_WHY = {
    "networks": "a HardenedService is reachable through its Service; use NetworkPolicies",
    "network_mode": "pods have their own network namespace",
    "depends_on": "start order is not modelled; readiness probes gate traffic instead",
    "container_name": "pods are named by their Deployment",
    "restart": "Deployments always restart their pods",
    "cap_add": "every HardenedService drops ALL capabilities",
    "privileged": "privileged containers are refused",
    "extra_hosts": "use DNS or hostAliases outside the HardenedService",
    "links": "use the Service name of the other HardenedService",
    "hostname": "pods are named by their Deployment",
    "working_dir": "set WORKDIR in the image",
    "logging": "logs go to the container runtime; collect them cluster-wide",
    "secrets": "mount Secrets via envFrom or a volume outside the HardenedService",
    "configs": "use a ConfigMap",
    "devices": "host devices cannot be mapped (GPUs use deploy.resources)",
    "read_only": "the root filesystem is read-only by default; writes outside /tmp and the "
    "/app volumes fail",
    "extends": "not followed: what it inherits is missing; convert `docker compose config` output",
}
_DEPLOY_MAPPED = {"resources", "replicas"}
# Every key the Compose Specification (and the v2 file format) defines for a service: a key
# outside this set is a typo or from a newer spec, and is reported as unknown.
_COMPOSE_KEYS = _MAPPED | set(_IMPLIED) | set(_WHY) | {
    "annotations", "attach", "blkio_config", "cgroup", "cgroup_parent", "cpu_count",
    "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares",
    "cpuset", "credential_spec", "develop", "device_cgroup_rules", "dns", "dns_opt",
    "dns_search", "domainname", "driver_opts", "external_links", "group_add", "init", "ipc",
    "isolation", "label_file", "mac_address", "mem_swappiness", "memswap_limit", "models",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "post_start",
    "pre_stop", "provider", "pull_policy", "shm_size", "stop_signal", "storage_opt", "sysctls",
    "ulimits", "use_api_socket", "userns_mode", "uts", "volume_driver", "volumes_from",
}  # fmt: skip
_DEPLOY_KEYS = _DEPLOY_MAPPED | {
    "endpoint_mode", "labels", "mode", "placement", "restart_policy", "rollback_config",
    "update_config",
}  # fmt: skip


@dataclass
class ConversionResult:
    documents: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def unmappable(self) -> list[Note]:
        return [note for note in self.notes if note.kind == "unmappable"]


def convert_files(
    paths: list[Path],
    *,
    namespace: str | None = None,
    image_prefix: str | None = None,
    environ: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> ConversionResult:
    """Convert compose files (merged in order, like ``docker compose -f a -f b``).

    Raises ``ManifestParseError`` (unreadable input, with file and line) and ``ConversionError``
    (services that cannot be converted at all, e.g. build-only without ``image_prefix``).
    """
    project = load_project(paths, environ or {}, stdin)
    result = ConversionResult()
    for key, where in project.top_level_unmapped:
        result.notes.append(Note("(top level)", key, f"in {where}: has no equivalent"))
    for variable in sorted(project.unset_variables):
        result.notes.append(
            Note("(top level)", "interpolation", f"${variable} is not set; substituted ''")
        )
    errors: list[str] = []
    seen: dict[str, str] = {}
    shared = _shared_volumes(project)
    for service in project.services.values():
        name = names.object_name(service.name)
        if name in seen:
            errors.append(
                f"services {seen[name]!r} and {service.name!r} both become {name!r}; rename one"
            )
            continue
        seen[name] = service.name
        try:
            document, notes = _convert_service(service, name, namespace, image_prefix, project)
            parse(document)  # fail closed: never hand out a spec the operator would refuse
        except ConversionError as exc:
            errors.append(str(exc))
            continue
        except SpecValidationError as exc:
            errors.append(f"service {service.name!r} cannot be converted: {exc}")
            continue
        for volume, others in shared.get(service.name, {}).items():
            notes.append(
                Note(
                    service.name,
                    "volumes",
                    f"{volume} is shared with {', '.join(others)}; each HardenedService gets "
                    "its own claim",
                    "warning",
                )
            )
        result.documents.append(document)
        result.notes.extend(notes)
    if errors:
        raise ConversionError("; ".join(errors))
    return result


def _shared_volumes(project: Project) -> dict[str, dict[str, list[str]]]:
    """service → named volume → the other services mounting the same volume."""
    users: dict[str, list[str]] = {}
    for service in project.services.values():
        for item in service.data.get("volumes") or []:
            ctx = fields.Context(service.name, service.file, service.line)
            mount = parse_mount(ctx, item)
            if mount is not None and mount.kind == "volume" and mount.source:
                users.setdefault(mount.source, []).append(service.name)
    shared: dict[str, dict[str, list[str]]] = {}
    for volume, services in users.items():
        for service_name in services:
            others = [other for other in services if other != service_name]
            if others:
                shared.setdefault(service_name, {})[volume] = others
    return shared


def _convert_service(
    service: Service,
    name: str,
    namespace: str | None,
    image_prefix: str | None,
    project: Project,
) -> tuple[dict[str, Any], list[Note]]:
    data = service.data
    ctx = fields.Context(service.name, service.file, service.line)
    spec: dict[str, Any] = {"image": _image(ctx, service, image_prefix)}
    if name != service.name:
        ctx.warn("name", f"renamed to {name!r} (Kubernetes names are DNS-1123 labels)")

    replicas = _replicas(ctx, data)
    if replicas is not None:
        spec["replicas"] = replicas
    for key, target in (("entrypoint", "command"), ("command", "args")):
        if data.get(key) is None:
            continue
        words = fields.command_list(ctx, key, data[key])
        if words:
            spec[target] = words
        else:
            # Compose clears the image's ENTRYPOINT/CMD; an empty list in Kubernetes keeps it.
            ctx.note(key, "empty: clearing the image's value has no equivalent")
    try:
        env = fields.environment(ctx, data.get("env_file") or [], data.get("environment") or {})
    except ValueError as exc:
        ctx.fail("environment", str(exc))
    if env:
        spec["env"] = env
    ports = fields.ports(ctx, _list(ctx, data, "ports"), _list(ctx, data, "expose"))
    if ports:
        spec["ports"] = ports
    spec["securityContext"] = fields.security_context(ctx, data.get("user"))
    mounts = [m for item in _list(ctx, data, "volumes") if (m := parse_mount(ctx, item))]
    spec["volumes"] = standard_volumes(ctx, mounts, data.get("tmpfs"), project.volumes)
    resources = fields.resources(ctx, data)
    if resources.as_spec():
        spec["resources"] = resources.as_spec()
    if resources.gpu_count:
        spec["gpu"] = {"count": resources.gpu_count}
    if data.get("healthcheck") is not None:
        probes = fields.probes(ctx, data["healthcheck"])
        if probes is not None:
            spec["probes"] = probes
    if data.get("stop_grace_period") is not None:
        spec["terminationGracePeriodSeconds"] = fields.grace_period(ctx, data["stop_grace_period"])
    pod_labels, pod_annotations = _labels(ctx, data.get("labels") or {})
    if pod_labels:
        spec["podLabels"] = pod_labels
    if pod_annotations:
        spec["podAnnotations"] = pod_annotations
    if _profiles(ctx, data):
        # Compose starts a debug-profile service only on request: keep the workload at zero
        # replicas (unless compose asked for some) and let the debug Deployment be the shell.
        spec["debug"] = True
        spec.setdefault("replicas", 0)
    _security_opts(ctx, data)
    _report_unmapped(ctx, service)

    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["annotations"] = {CONVERTED_FROM: f"{service.file.name}#{service.name}"}
    document = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": KIND,
        "metadata": metadata,
        "spec": spec,
    }
    return document, ctx.notes


def _image(ctx: fields.Context, service: Service, prefix: str | None) -> str:
    data = service.data
    image = data.get("image")
    if image:
        if data.get("build") is not None:
            ctx.warn("build", f"ignored: the service also names image {image}; build and push it")
        return str(image)
    if data.get("build") is None:
        hints = [
            f"{service.key_locations.get(str(key), f'{service.file}:{service.line}')}: "
            f"unknown key {key} — did you mean {guess}?"
            for key in data
            if (guess := _did_you_mean(str(key), _COMPOSE_KEYS)) in ("image", "build")
        ]
        raise ConversionError(
            f"{service.file}:{service.line}: service {ctx.service!r} has neither image nor "
            "build" + "".join(f" ({hint})" for hint in hints)
        )
    if not prefix:
        raise ConversionError(
            f"service {ctx.service!r} only has `build:`; pass --image-prefix (e.g. "
            f"registry.example.com/team/) so it becomes <prefix>{ctx.service}"
        )
    image = f"{prefix}{ctx.service.lower()}"  # image repositories are lowercase
    ctx.warn("build", f"build-only service: image {image} must be built and pushed")
    return image


def _replicas(ctx: fields.Context, data: dict[str, Any]) -> int | None:
    deploy = data.get("deploy") or {}
    if not isinstance(deploy, dict):
        ctx.fail("deploy", "must be a mapping")
    value = deploy.get("replicas", data.get("scale"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.fail("deploy.replicas", f"must be a non-negative integer, not {show(value)}")
    return value


def _list(ctx: fields.Context, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.fail(key, f"must be a list, not {type(value).__name__}")
    return value


def _labels(ctx: fields.Context, labels: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Valid, non-reserved label pairs stay labels; the rest become annotations when their key
    is a valid annotation key, and are reported otherwise."""
    pod_labels: dict[str, str] = {}
    pod_annotations: dict[str, str] = {}
    for key, raw in labels.items():
        value = "" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
        key = str(key)
        domain = key.rpartition("/")[0]
        reserved = any(domain == d or domain.endswith(f".{d}") for d in _RESERVED_LABEL_DOMAINS)
        if not is_label_key(key):
            ctx.note("labels", f"{key!r} is not a valid Kubernetes label or annotation key")
        elif is_label_value(value) and not reserved and len(pod_labels) < _MAX_ENTRIES:
            pod_labels[key] = value
        elif len(pod_annotations) < _MAX_ENTRIES:
            pod_annotations[key] = value
        else:
            ctx.note("labels", f"{key!r}: more than {_MAX_ENTRIES} labels and annotations")
    return pod_labels, pod_annotations


def _profiles(ctx: fields.Context, data: dict[str, Any]) -> bool:
    profiles = _list(ctx, data, "profiles")
    for profile in profiles:
        if profile != DEBUG_PROFILE:
            ctx.note(
                "profiles",
                f"{profile!r}: compose starts this service only with --profile {profile}; "
                "a HardenedService is always deployed",
            )
    if DEBUG_PROFILE in profiles:
        ctx.warn(
            "profiles",
            "debug → debug: true and replicas: 0: one <name>-debug pod running a shell with the "
            "same identity and volumes (the service's own command is not run)",
        )
        return True
    return False


def _security_opts(ctx: fields.Context, data: dict[str, Any]) -> None:
    for option in _list(ctx, data, "security_opt"):
        text = str(option).replace("=", ":")
        if text not in ("no-new-privileges:true", "no-new-privileges"):
            ctx.note("security_opt", f"{show(option)} has no equivalent")
    for capability in _list(ctx, data, "cap_drop"):
        if str(capability).upper() not in ("ALL", "CAP_ALL"):
            ctx.warn("cap_drop", f"{capability}: every HardenedService drops ALL capabilities")


def _report_unmapped(ctx: fields.Context, service: Service) -> None:
    data = service.data
    for key, value in data.items():
        if key in _MAPPED or str(key).startswith("x-"):
            continue
        if key in _IMPLIED and (_IMPLIED[key] is None or value == _IMPLIED[key]):
            continue
        if str(key) not in _COMPOSE_KEYS:
            where = service.key_locations.get(str(key), f"{service.file}:{service.line}")
            ctx.note(str(key), _unknown(str(key), _COMPOSE_KEYS, where))
            continue
        ctx.note(str(key), f"{_short(value)}: {_WHY.get(key, 'has no equivalent')}")
    deploy = data.get("deploy") or {}
    for key, value in deploy.items():
        if key in _DEPLOY_MAPPED:
            continue
        if str(key) not in _DEPLOY_KEYS:
            where = service.key_locations.get("deploy", f"{service.file}:{service.line}")
            ctx.note(f"deploy.{key}", _unknown(str(key), _DEPLOY_KEYS, f"under deploy at {where}"))
            continue
        ctx.note(f"deploy.{key}", f"{_short(value)}: has no equivalent")


def _did_you_mean(key: str, known: set[str]) -> str | None:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
    return close[0] if close else None


def _unknown(key: str, known: set[str], where: str) -> str:
    guess = _did_you_mean(key, known)
    hint = f" — did you mean {guess}?" if guess else ", not in the compose specification"
    return f"unknown key{hint} ({where})"


def _short(value: Any) -> str:
    text = show(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


__all__ = ["ConversionResult", "convert_files"]
