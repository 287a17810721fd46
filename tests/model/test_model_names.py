"""Kubernetes name grammars: what is a namespace, label key, label value and port name."""

from __future__ import annotations

import pytest

from hardened_operator.model.names import (
    is_dns1123_label,
    is_label_key,
    is_label_value,
    is_port_name,
)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("team-a", True),
        ("a", True),
        ("0", True),
        ("x" * 63, True),
        ("x" * 64, False),
        ("Team", False),
        ("-a", False),
        ("a-", False),
        ("a.b", False),
        ("", False),
        ("a\n", False),
    ],
)
def test_namespace_names(name: str, valid: bool) -> None:
    assert is_dns1123_label(name) is valid


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("team", True),
        ("com.example.team", True),
        ("example.com/team", True),
        ("traefik.http.routers.api.rule", True),
        ("Example.com/team", False),
        ("bad key", False),
        ("-lead", False),
        ("a/b/c", False),
        ("x" * 64, False),
    ],
)
def test_label_keys(key: str, valid: bool) -> None:
    assert is_label_key(key) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("", True), ("ml", True), ("GPU inference server", False), ("Host(`a`)", False)],
)
def test_label_values(value: str, valid: bool) -> None:
    assert is_label_value(value) is valid


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("http", True),
        ("metrics-9090", True),
        ("x" * 15, True),
        ("x" * 16, False),
        ("8080", False),  # needs a letter
        ("a--b", False),
        ("HTTP", False),
        ("-http", False),
    ],
)
def test_port_names(name: str, valid: bool) -> None:
    assert is_port_name(name) is valid
