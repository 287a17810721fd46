"""Properties of ``convert`` over generated compose services (hypothesis): it either refuses
with a located error, or every object it returns passes the operator's model and runs non-root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_operator.builders import build_objects, parse
from hardened_operator.errors import ConversionError, ManifestParseError
from hardened_operator.migrate.compose import convert_files

scalars = st.one_of(
    st.text(min_size=0, max_size=12), st.integers(-5, 70000), st.booleans(), st.none()
)
service_keys: dict[str, st.SearchStrategy[Any]] = {
    "image": st.sampled_from(["example/app:1", "python:3.11", ""]),
    "build": st.sampled_from([".", {"context": "."}]),
    "user": st.one_of(
        st.sampled_from(["0", "root", "0:0", "1000:1000", "1001", "ai", "x:y"]), scalars
    ),
    "command": st.one_of(st.text(max_size=20), st.lists(scalars, max_size=4)),
    "entrypoint": st.one_of(st.text(max_size=20), st.lists(scalars, max_size=3)),
    "environment": st.one_of(
        st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), scalars, max_size=4),
        st.lists(st.sampled_from(["A=1", "B", "C=x=y", "PASSWORD=p"]), max_size=4),
    ),
    "ports": st.lists(
        st.one_of(
            st.sampled_from(["80", "8080:80", "1-3", "70000", "53/udp", "a:b", "80/xtp"]),
            st.integers(-1, 70000),
            st.fixed_dictionaries({"target": st.integers(0, 70000)}),
        ),
        max_size=4,
    ),
    "volumes": st.lists(
        st.sampled_from(
            [
                "logs:/app/logs",
                "./x:/app/data",
                "/app/cache",
                "m:/app/models:ro",
                "r:/data",
                "x:/app/logs:zz",
            ]
        ),
        max_size=4,
    ),
    "deploy": st.fixed_dictionaries(
        {},
        optional={
            "replicas": st.one_of(st.integers(-1, 5), st.text(max_size=3)),
            "resources": st.fixed_dictionaries(
                {},
                optional={
                    "limits": st.fixed_dictionaries(
                        {},
                        optional={
                            "cpus": st.sampled_from(["0.5", "2", "0", "-1", "x", 1.25]),
                            "memory": st.sampled_from(["512m", "1g", "2G", "0", "lots", 100]),
                        },
                    ),
                    "reservations": st.fixed_dictionaries(
                        {},
                        optional={
                            "memory": st.sampled_from(["256m", "4g"]),
                            "devices": st.lists(
                                st.fixed_dictionaries(
                                    {"capabilities": st.just(["gpu"])},
                                    optional={"count": st.sampled_from([1, 2, "all", -1, "x"])},
                                ),
                                max_size=2,
                            ),
                        },
                    ),
                },
            ),
        },
    ),
    "healthcheck": st.fixed_dictionaries(
        {},
        optional={
            "test": st.sampled_from(
                [["CMD", "true"], ["CMD-SHELL", "x"], "x", ["NONE"], ["BAD"], []]
            ),
            "interval": st.sampled_from(["30s", "1m30s", "0s", "x", 5]),
            "retries": st.sampled_from([3, 0, -1]),
            "start_period": st.sampled_from(["60s", "2m"]),
        },
    ),
    "labels": st.dictionaries(
        st.sampled_from(["a", "b.c/d", "Bad Key", "app.kubernetes.io/name"]), scalars, max_size=3
    ),
    "profiles": st.lists(st.sampled_from(["debug", "tools"]), max_size=2),
    "runtime": st.sampled_from(["nvidia", "runc", "kata"]),
    "stop_grace_period": st.sampled_from(["10s", "1h30m", "x"]),
    "restart": st.just("always"),
}
services = st.fixed_dictionaries({}, optional=service_keys)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_.-]{0,10}", fullmatch=True), services, min_size=1, max_size=3
    )
)
def test_convert_fails_closed_or_returns_valid_non_root_objects(
    tmp_path: Path, compose: dict[str, Any]
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump({"services": compose}), encoding="utf-8")
    try:
        result = convert_files([path], image_prefix="reg.example/")
    except ManifestParseError as exc:
        assert exc.file == str(path) and exc.line is not None
        return
    except ConversionError as exc:
        assert str(exc)
        return
    for document in result.documents:
        service = parse(document)
        assert service.spec.securityContext.runAsUser != 0
        assert service.spec.securityContext.runAsGroup != 0
        build_objects(document)
