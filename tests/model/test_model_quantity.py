"""Quantity parsing used by the resource checks: exact, and strict about the grammar."""

from __future__ import annotations

from decimal import Decimal

import pytest

from hardened_operator.model.quantity import parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (7, Decimal(7)),
        ("2", Decimal(2)),
        ("500m", Decimal("0.5")),
        ("1.5Gi", Decimal(1536 * 1024 * 1024)),
        ("1Ki", Decimal(1024)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        (".5", Decimal("0.5")),
        ("+1M", Decimal(1000000)),
        ("-1", Decimal(-1)),
        ("100n", Decimal("0.0000001")),
        ("2Ei", Decimal(2 * 2**60)),
    ],
)
def test_parses_exactly(text: int | str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1Xi", "1 Gi", "Gi", "1.2.3", "1e", "1ee3"])
def test_refuses_non_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity(text)
