"""Property: for any pod spec of securityContext fields, --fix output passes and is stable."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardened_operator.audit.rewrite import fix_source
from hardened_operator.audit.sources import Source
from hardened_operator.workloads import review_object
from tests.audit.audit_manifests import KINDS, wrap


def _maybe(key: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(st.just({}), values.map(lambda v: {key: v}))


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        out.update(part)
    return out


_CAPS = st.sampled_from(["ALL", "NET_RAW", "NET_BIND_SERVICE", "SYS_ADMIN", "CHOWN"])
_SECCOMP = st.sampled_from(["RuntimeDefault", "Unconfined", "Localhost"]).map(
    lambda t: {"type": t, **({"localhostProfile": "p.json"} if t == "Localhost" else {})}
)
_CONTAINER_SC = st.tuples(
    _maybe("runAsUser", st.sampled_from([0, 1000, 65534])),
    _maybe("runAsNonRoot", st.booleans()),
    _maybe("privileged", st.booleans()),
    _maybe("allowPrivilegeEscalation", st.booleans()),
    _maybe(
        "capabilities",
        st.fixed_dictionaries(
            {}, optional={"add": st.lists(_CAPS, max_size=3), "drop": st.lists(_CAPS, max_size=3)}
        ),
    ),
    _maybe("seccompProfile", _SECCOMP),
).map(lambda parts: _merge(list(parts)))
_POD_SC = st.tuples(
    _maybe("runAsUser", st.sampled_from([0, 1000])),
    _maybe("runAsNonRoot", st.booleans()),
    _maybe("seccompProfile", _SECCOMP),
).map(lambda parts: _merge(list(parts)))


@st.composite
def _containers(draw: st.DrawFn, prefix: str, min_size: int) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=min_size, max_value=2))
    result = []
    for index in range(count):
        c: dict[str, Any] = {"name": f"{prefix}{index}", "image": "registry.example/x:1"}
        sc = draw(st.one_of(st.none(), _CONTAINER_SC))
        if sc is not None:
            c["securityContext"] = sc
        result.append(c)
    return result


@st.composite
def pod_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": draw(_containers("c", 1))}
    for key, prefix in (("initContainers", "i"), ("ephemeralContainers", "e")):
        extra = draw(_containers(prefix, 0))
        if extra:
            spec[key] = extra
    pod_sc = draw(st.one_of(st.none(), _POD_SC))
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    if draw(st.booleans()):
        spec["hostUsers"] = False
    return spec


def _without_security(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_security(v) for k, v in value.items() if k != "securityContext"}
    if isinstance(value, list):
        return [_without_security(v) for v in value]
    return value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=pod_specs(),
    kind=st.sampled_from(KINDS),
    profile=st.sampled_from(["nonroot", "restricted"]),
    flow=st.booleans(),
)
def test_fix_output_passes_is_stable_and_touches_only_security(
    spec: dict[str, Any], kind: str, profile: str, flow: bool
) -> None:
    obj = wrap(kind, spec)
    text = "# comment kept\n" + yaml.safe_dump(obj, sort_keys=False, default_flow_style=flow)
    fixed = fix_source(Source("p.yaml", text, False), profile).text  # type: ignore[arg-type]
    assert fixed.startswith("# comment kept\n")
    result = yaml.safe_load(fixed)
    assert review_object(result, profile) == []  # type: ignore[arg-type]
    assert _without_security(result) == _without_security(obj)
    assert fix_source(Source("p.yaml", fixed, False), profile).text == fixed  # type: ignore[arg-type]
