"""docker-compose → HardenedService: each mapping, and what is reported instead of dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hardened_operator.builders import parse
from hardened_operator.errors import ConversionError, ManifestParseError
from hardened_operator.migrate.compose import ConversionResult, convert_files
from tests.migrate.migrate_support import COMPOSE, PREFIX


def convert(path: Path, **kwargs: Any) -> ConversionResult:
    result = convert_files([path], **kwargs)
    for document in result.documents:
        parse(document)  # every object we produce must pass the real model
    return result


def by_name(result: ConversionResult) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc["spec"] for doc in result.documents}


def notes(
    result: ConversionResult, service: str, kind: str | None = None, key: str = ""
) -> list[str]:
    return [
        f"{n.key}: {n.message}"
        for n in result.notes
        if n.service == service and (kind is None or n.kind == kind) and n.key.startswith(key)
    ]


def write(tmp_path: Path, text: str, name: str = "docker-compose.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def one_spec(tmp_path: Path, service_yaml: str) -> tuple[dict[str, Any], ConversionResult]:
    body = "\n".join(f"    {line}" for line in service_yaml.strip().splitlines())
    path = write(tmp_path, f"services:\n  svc:\n    image: example/svc:1\n{body}\n")
    result = convert(path)
    return result.documents[0]["spec"], result


# ---------------------------------------------------------------- the seed's compose file


def test_seed_compose_file_becomes_one_hardened_service_per_service() -> None:
    result = convert(
        COMPOSE / "seed" / "docker-compose.production.yml", namespace="ai", image_prefix=PREFIX
    )
    specs = by_name(result)
    assert list(specs) == ["service-registry", "model-manager-suite", "redis", "ai-debug-shell"]
    assert all(doc["metadata"]["namespace"] == "ai" for doc in result.documents)
    registry = specs["service-registry"]
    assert registry["image"] == f"{PREFIX}service-registry"
    assert registry["args"] == ["python", "-m", "ai_system.registry", "--port", "7100"]
    assert registry["env"] == [
        {"name": "BIND_ADDRESS", "value": "0.0.0.0"},
        {"name": "LOG_LEVEL", "value": "INFO"},
    ]
    assert registry["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}
    assert {k: v["enabled"] for k, v in registry["volumes"].items()} == {
        "logs": True,
        "data": True,
        "models": False,
        "cache": False,
    }
    assert registry["ports"] == [{"name": "tcp-7100", "containerPort": 7100, "protocol": "TCP"}]
    # The seed's health check: 30 s / 10 s / 3 retries / 60 s start period.
    assert registry["probes"]["liveness"] == {
        "exec": {"command": ["python", "-c", "import sys; sys.exit(0)"]},
        "timeoutSeconds": 10,
        "periodSeconds": 30,
        "failureThreshold": 3,
    }
    startup = registry["probes"]["startup"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60 + 3 * 30

    gpu = specs["model-manager-suite"]
    assert gpu["gpu"] == {"count": 1}
    assert gpu["resources"] == {
        "limits": {"cpu": "4", "memory": "16Gi"},
        "requests": {"memory": "8Gi"},
    }
    assert all(v["enabled"] for v in gpu["volumes"].values())
    assert gpu["ports"] == [{"name": "tcp-7200", "containerPort": 7200, "protocol": "TCP"}]

    debug = specs["ai-debug-shell"]
    assert debug["debug"] is True and debug["replicas"] == 0

    redis = specs["redis"]
    assert redis["probes"]["readiness"]["exec"]["command"] == [
        "/bin/sh",
        "-c",
        "redis-cli ping | grep PONG",
    ]
    assert not any(v["enabled"] for v in redis["volumes"].values())


def test_seed_compose_file_reports_everything_it_drops() -> None:
    result = convert(COMPOSE / "seed" / "docker-compose.production.yml", image_prefix=PREFIX)
    registry = notes(result, "service-registry", "unmappable")
    for key in ("networks", "depends_on", "container_name", "restart"):
        assert any(line.startswith(f"{key}:") for line in registry), (key, registry)
    assert any("/data" in line for line in notes(result, "redis", "unmappable"))
    assert any("./:/app/src:ro" in line for line in notes(result, "ai-debug-shell", "unmappable"))
    assert any("user: not set" in line for line in notes(result, "redis", "warning"))
    shared = [n for n in notes(result, "service-registry", "warning") if "shared with" in n]
    assert len(shared) == 2  # logs_data and data_storage


def test_build_only_service_without_prefix_is_an_error_naming_it() -> None:
    with pytest.raises(ConversionError, match=r"'service-registry'.*--image-prefix"):
        convert_files([COMPOSE / "seed" / "docker-compose.production.yml"])


# ---------------------------------------------------------------- v2, compose.yaml, anchors


def test_v2_file_runtime_nvidia_and_v2_resources() -> None:
    result = convert(COMPOSE / "v2" / "docker-compose.yml")
    inference = by_name(result)["inference"]
    assert inference["gpu"] == {"count": 2}  # NVIDIA_VISIBLE_DEVICES=0,1
    assert inference["replicas"] == 2  # scale
    assert inference["resources"] == {
        "limits": {"cpu": "2500m", "memory": "1536Mi"},
        "requests": {"memory": "512Mi"},
    }
    assert inference["securityContext"]["runAsUser"] == 1001  # a non-root UID is kept
    assert inference["terminationGracePeriodSeconds"] == 60
    probe = inference["probes"]["liveness"]
    assert probe["periodSeconds"] == 90 and probe["timeoutSeconds"] == 1
    assert probe["exec"]["command"][:2] == ["/bin/sh", "-c"]
    startup = inference["probes"]["startup"]
    assert startup["failureThreshold"] == 2 + 2  # ceil(120 s / 90 s) + retries
    # YAML 1.1 would read "no" as false and 8000:8000 as the base-60 number 480000.
    assert {"name": "DEBUG", "value": "no"} in inference["env"]
    assert [p["containerPort"] for p in inference["ports"]] == [8000, 9100]
    assert inference["podLabels"] == {"com.example.team": "ml"}
    assert inference["podAnnotations"] == {
        "com.example.description": "GPU inference server",
        "app.kubernetes.io/part-of": "ai",  # an operator-owned label cannot be a pod label
    }
    worker = by_name(result)["worker"]
    assert worker["gpu"] == {"count": 1}
    assert worker["securityContext"]["runAsUser"] == 1000
    dropped = notes(result, "worker", "unmappable")
    for key in ("cap_add", "privileged", "extra_hosts", "logging"):
        assert any(line.startswith(f"{key}:") for line in dropped), key


def test_compose_yaml_with_anchors_merge_keys_and_long_syntax() -> None:
    result = convert(COMPOSE / "anchors" / "compose.yaml")
    specs = by_name(result)
    gateway = specs["api-gateway"]
    assert gateway["command"] == ["/usr/local/bin/tini", "--"]
    assert gateway["args"] == ["python", "-m", "gateway"]
    assert gateway["env"] == [
        {"name": "LOG_LEVEL", "value": "DEBUG"},  # the override after "<<" wins
        {"name": "CACHE_DIR", "value": "/app/cache"},
        {"name": "PORT", "value": "8080"},
    ]
    assert gateway["ports"] == [
        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "udp-9090", "containerPort": 9090, "protocol": "UDP"},
    ]
    assert gateway["replicas"] == 3
    assert gateway["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}
    assert gateway["podLabels"] == {"com.example.stack": "ai", "traefik.enable": "true"}
    assert gateway["podAnnotations"] == {"traefik.http.routers.api.rule": "Host(`api.example.com`)"}
    assert gateway["volumes"]["logs"]["enabled"] is True  # "/app/logs/" normalised
    assert any("range" in line for line in notes(result, "api_gateway", "unmappable"))
    assert any("renamed to 'api-gateway'" in line for line in notes(result, "api_gateway"))
    # read_only, no-new-privileges and cap_drop ALL are already implied: nothing to report.
    assert not any(
        line.split(":")[0] in ("read_only", "security_opt", "cap_drop")
        for line in notes(result, "api_gateway")
    )

    trainer = specs["trainer"]
    assert trainer["args"] == ["python", "train.py", "--epochs", "10", "--name", "nightly run"]
    assert trainer["gpu"] == {"count": 1}
    assert "probes" not in trainer  # test: [NONE]
    assert {k: v["enabled"] for k, v in trainer["volumes"].items()} == {
        "logs": False,
        "data": True,
        "models": True,
        "cache": True,
    }
    assert any("count: all" in n or "all GPUs" in n for n in notes(result, "trainer", "warning"))


def test_env_file_interpolation_and_missing_files(monkeypatch: pytest.MonkeyPatch) -> None:
    result = convert(COMPOSE / "envfile" / "docker-compose.yml", environ={"BATCH_TAG": "9.9"})
    specs = by_name(result)
    api = specs["api"]
    assert api["image"] == "registry.example.com/api:3.2.1"  # from .env
    assert specs["batch"]["image"] == "registry.example.com/batch:9.9"  # the shell wins
    assert api["env"] == [
        {"name": "DATABASE_URL", "value": "postgres://db:5432/app"},
        {"name": "FEATURE_FLAGS", "value": "a,b,c"},
        {"name": "TIMEOUT", "value": "60"},  # environment overrides env_file
        {"name": "PRICE", "value": "$5"},
        {"name": "UNSET_ONE", "value": ""},
    ]
    assert any("FROM_SHELL" in line for line in notes(result, "api", "unmappable"))
    assert any("missing.env" in line for line in notes(result, "batch", "unmappable"))
    assert any("optional.env" in line for line in notes(result, "api", "warning"))
    assert any("NOT_DEFINED_ANYWHERE" in n.message for n in result.unmappable)


def test_several_files_merge_like_compose_overrides() -> None:
    folder = COMPOSE / "override"
    result = convert_files([folder / "docker-compose.yml", folder / "docker-compose.override.yml"])
    specs = by_name(result)
    web = specs["web"]
    assert web["image"] == "example/web:1.1"
    assert web["env"] == [
        {"name": "MODE", "value": "production"},
        {"name": "WORKERS", "value": "8"},
    ]
    assert [p["containerPort"] for p in web["ports"]] == [8080, 9090]
    assert web["volumes"]["logs"]["enabled"] and web["volumes"]["data"]["enabled"]
    assert "extra" in specs


# ---------------------------------------------------------------- one key at a time


@pytest.mark.parametrize(
    ("user", "expected", "warned"),
    [
        (None, (1000, 1000), True),
        ('"0"', (1000, 1000), True),
        ("root", (1000, 1000), True),
        ('"0:0"', (1000, 1000), True),
        ("root:root", (1000, 1000), True),
        ('"1000:1000"', (1000, 1000), False),
        ('"1001:1001"', (1001, 1001), False),
        ('"1001"', (1001, 1000), True),
        ("ai", (1000, 1000), True),
        ("www-data", (1000, 1000), True),
        ('"1001:0"', (1001, 1000), True),
        ("1001:staff", (1001, 1000), True),
    ],
)
def test_user_mapping(
    tmp_path: Path, user: str | None, expected: tuple[int, int], warned: bool
) -> None:
    spec, result = one_spec(tmp_path, f"user: {user}" if user else "")
    context = spec["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == expected
    assert context["fsGroup"] == expected[1]
    assert bool(notes(result, "svc", "warning", key="user")) is warned


@pytest.mark.parametrize(
    ("ports", "expected", "unmappable"),
    [
        ('["80"]', [(80, "TCP", "tcp-80")], 0),
        ('["8080:80"]', [(80, "TCP", "tcp-80")], 0),
        ('["127.0.0.1:8080:80/udp"]', [(80, "UDP", "udp-80")], 0),
        ('["[::1]:8080:80"]', [(80, "TCP", "tcp-80")], 0),
        ('["80", "80/udp", "8080:80"]', [(80, "TCP", "tcp-80"), (80, "UDP", "udp-80")], 0),
        ('["9000-9002:9000-9002"]', [], 1),
        ("[{target: 53, protocol: udp, name: dns}]", [(53, "UDP", "dns")], 0),
        ("[{target: 80, mode: host}]", [(80, "TCP", "tcp-80")], 1),
    ],
)
def test_port_syntaxes(
    tmp_path: Path, ports: str, expected: list[tuple[int, str, str]], unmappable: int
) -> None:
    spec, result = one_spec(tmp_path, f"ports: {ports}")
    got = [(p["containerPort"], p["protocol"], p["name"]) for p in spec.get("ports", [])]
    assert got == expected
    assert len(notes(result, "svc", "unmappable")) == unmappable


@pytest.mark.parametrize(
    ("healthcheck", "command"),
    [
        ('{test: ["CMD", "curl", "-f", "http://x"]}', ["curl", "-f", "http://x"]),
        (
            '{test: ["CMD-SHELL", "curl -f http://x || exit 1"]}',
            ["/bin/sh", "-c", "curl -f http://x || exit 1"],
        ),
        ('{test: "curl -f http://x"}', ["/bin/sh", "-c", "curl -f http://x"]),
    ],
)
def test_healthcheck_forms(tmp_path: Path, healthcheck: str, command: list[str]) -> None:
    spec, _ = one_spec(tmp_path, f"healthcheck: {healthcheck}")
    for probe in ("startup", "liveness", "readiness"):
        assert spec["probes"][probe]["exec"]["command"] == command
    # compose defaults: interval 30s, timeout 30s, retries 3, no start period
    assert spec["probes"]["liveness"]["timeoutSeconds"] == 30
    assert spec["probes"]["startup"]["failureThreshold"] == 3


@pytest.mark.parametrize("healthcheck", ['{test: ["NONE"]}', "{disable: true}"])
def test_disabled_healthcheck_leaves_probes_to_the_operator(
    tmp_path: Path, healthcheck: str
) -> None:
    spec, result = one_spec(tmp_path, f"healthcheck: {healthcheck}")
    assert "probes" not in spec
    assert any("disabled" in line for line in notes(result, "svc", "warning"))


@pytest.mark.parametrize(
    ("resources", "gpu", "warned"),
    [
        ("{reservations: {devices: [{driver: nvidia, count: 2, capabilities: [gpu]}]}}", 2, False),
        ("{reservations: {devices: [{capabilities: [gpu], count: all}]}}", 1, True),
        (
            "{reservations: {devices: [{driver: nvidia, device_ids: ['0', '3'],"
            " capabilities: [gpu]}]}}",
            2,
            True,
        ),
    ],
)
def test_gpu_reservations(tmp_path: Path, resources: str, gpu: int, warned: bool) -> None:
    spec, result = one_spec(tmp_path, f"deploy: {{resources: {resources}}}")
    assert spec["gpu"] == {"count": gpu}
    assert bool(notes(result, "svc", "warning", key="deploy")) is warned


def test_non_gpu_device_request_is_reported(tmp_path: Path) -> None:
    spec, result = one_spec(
        tmp_path,
        "deploy: {resources: {reservations: {devices: "
        "[{driver: tpu, count: 1, capabilities: [tpu]}]}}}",
    )
    assert "gpu" not in spec
    assert any("not an NVIDIA GPU" in line for line in notes(result, "svc", "unmappable"))


@pytest.mark.parametrize(
    ("entrypoint", "expected"),
    [
        ("entrypoint: /bin/tini -- run", ["/bin/tini", "--", "run"]),
        ('entrypoint: ["/bin/sh", "-c", "echo $$HOME"]', ["/bin/sh", "-c", "echo $HOME"]),
        ("entrypoint: python -c 'print(1)'", ["python", "-c", "print(1)"]),
    ],
)
def test_entrypoint_forms(tmp_path: Path, entrypoint: str, expected: list[str]) -> None:
    spec, _ = one_spec(tmp_path, entrypoint)
    assert spec["command"] == expected


def test_every_unknown_key_is_reported_never_dropped(tmp_path: Path) -> None:
    keys = {
        "hostname": "x",
        "working_dir": "/srv",
        "ulimits": "{nofile: 1024}",
        "sysctls": "{net.core.somaxconn: 1024}",
        "shm_size": "1g",
        "pid": "host",
        "init": "true",
        "secrets": "[db]",
        "read_only": "false",
        "devices": '["/dev/fuse"]',
        "platform": "linux/amd64",
    }
    _, result = one_spec(tmp_path, "\n".join(f"{k}: {v}" for k, v in keys.items()))
    reported = {line.split(":")[0] for line in notes(result, "svc", "unmappable")}
    assert set(keys) <= reported


def test_requests_above_limits_fail_with_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestParseError, match="exceeds the limit") as caught:
        one_spec(
            tmp_path, "deploy: {resources: {limits: {memory: 1g}, reservations: {memory: 2g}}}"
        )
    assert caught.value.line == 2


def test_colliding_names_are_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  my_api: {image: a}\n  my-api: {image: b}\n")
    with pytest.raises(ConversionError, match="both become 'my-api'"):
        convert_files([path])


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("invalid.yml", 6, "invalid YAML"),
        ("service-list.yml", 4, "must be a mapping"),
        ("bad-memory.yml", 2, "not a memory size"),
    ],
)
def test_unreadable_input_names_file_and_line(name: str, line: int, message: str) -> None:
    path = COMPOSE / "broken" / name
    with pytest.raises(ManifestParseError, match=message) as caught:
        convert_files([path])
    assert caught.value.file == str(path)
    assert caught.value.line == line


def test_missing_file_and_v1_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestParseError, match="no such file"):
        convert_files([tmp_path / "nope.yml"])
    with pytest.raises(ManifestParseError, match="v1 files"):
        convert_files([write(tmp_path, "web:\n  image: nginx\n")])


def test_required_variable_missing_is_unreadable_input(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n")
    with pytest.raises(ManifestParseError, match="IMAGE"):
        convert_files([path], environ={})
    assert convert_files([path], environ={"IMAGE": "x:1"}).documents[0]["spec"]["image"] == "x:1"


def test_empty_entrypoint_is_reported_not_emitted(tmp_path: Path) -> None:
    spec, result = one_spec(tmp_path, 'entrypoint: ""\ncommand: []')
    assert "command" not in spec and "args" not in spec
    assert len(notes(result, "svc", "unmappable")) == 2


def test_values_beyond_the_schema_are_clamped_or_refused(tmp_path: Path) -> None:
    spec, result = one_spec(tmp_path, "stop_grace_period: 1h30m")
    assert spec["terminationGracePeriodSeconds"] == 3600
    assert notes(result, "svc", "warning", key="stop_grace_period")
    path = write(tmp_path, "services:\n  big:\n    image: a\n    deploy: {replicas: 5000}\n")
    with pytest.raises(ConversionError, match=r"'big' cannot be converted: spec.replicas"):
        convert_files([path])


def test_invalid_environment_names_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    spec, result = one_spec(tmp_path, 'environment: {"1BAD": x, "has space": y, GOOD.name-1: z}')
    assert spec["env"] == [{"name": "GOOD.name-1", "value": "z"}]
    assert len(notes(result, "svc", "unmappable", key="environment")) == 2
