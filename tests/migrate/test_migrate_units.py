"""Value formats: compose durations, memory and CPU → Kubernetes; names and label rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hardened_operator.migrate import names, units


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", Decimal(30)),
        ("1m30s", Decimal(90)),
        ("1h", Decimal(3600)),
        ("500ms", Decimal("0.5")),
        ("1.5s", Decimal("1.5")),
        ("2m", Decimal(120)),
        ("0", Decimal(0)),
        (10, Decimal(10)),
    ],
)
def test_durations_follow_go_syntax(text: object, expected: Decimal) -> None:
    assert units.duration_seconds(text) == expected


@pytest.mark.parametrize("text", ["30", "1x", "s", "1m30", "ten seconds", True])
def test_bad_durations_are_refused(text: object) -> None:
    # A bare "30" is no Go duration (compose refuses it too); True is no duration at all.
    with pytest.raises(ValueError, match="duration"):
        units.duration_seconds(text)


def test_probe_seconds_round_up_and_never_reach_zero() -> None:
    assert units.whole_seconds("500ms") == 1
    assert units.whole_seconds("1.2s") == 2
    assert units.whole_seconds("0s", minimum=0) == 0


@pytest.mark.parametrize(
    ("compose", "kubernetes"),
    [
        ("512m", "512Mi"),  # compose m = MiB, not Kubernetes' millibytes
        ("512M", "512Mi"),
        ("512mb", "512Mi"),
        ("2g", "2Gi"),
        ("2G", "2Gi"),
        ("1.5g", "1536Mi"),
        ("1024k", "1Mi"),
        ("100k", "100Ki"),
        ("1536", "1536"),
        ("1024b", "1Ki"),
        (1073741824, "1Gi"),
        ("1t", "1Ti"),
        ("0.5k", "512"),
    ],
)
def test_memory_units_are_binary_and_exact(compose: object, kubernetes: str) -> None:
    assert units.memory_quantity(compose) == kubernetes


@pytest.mark.parametrize("text", ["lots", "-1g", "0", "1.5.2g", "12q", False])
def test_bad_memory_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match="memory"):
        units.memory_quantity(text)


@pytest.mark.parametrize(
    ("cpus", "quantity", "rounded"),
    [
        ("0.5", "500m", False),
        (2, "2", False),
        ("2.0", "2", False),
        (2.5, "2500m", False),
        ("0.25", "250m", False),
        ("0.0001", "1m", True),
    ],
)
def test_cpus_become_millicores(cpus: object, quantity: str, rounded: bool) -> None:
    assert units.cpu_quantity(cpus) == (quantity, rounded)


@pytest.mark.parametrize("cpus", ["0", "-1", "half", "nan", True])
def test_bad_cpus_are_refused(cpus: object) -> None:
    with pytest.raises(ValueError, match="CPU"):
        units.cpu_quantity(cpus)


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("api", "api"),
        ("api_gateway", "api-gateway"),
        ("My.Service", "my-service"),
        ("7zip", "svc-7zip"),  # a Service name must start with a letter
        ("--x--", "x"),
        ("a__b", "a-b"),
    ],
)
def test_service_names_become_dns_labels(raw: str, name: str) -> None:
    assert names.object_name(raw) == name


def test_long_names_stay_distinct_and_short_enough() -> None:
    first = names.object_name("x" * 80 + "-one")
    second = names.object_name("x" * 80 + "-two")
    assert first != second
    assert len(first) <= names.MAX_NAME and len(f"{first}-models") <= 63
