"""Kubernetes quantities: one parser, exact, and strict about the grammar.

The model's resource checks, the drift comparison and ``hardened convert`` all read quantities
with it; ``quantity_or_none`` is how values read from the API (strings, numbers, anything)
are compared.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from hardened_operator.model.quantity import parse_quantity, quantity_or_none


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


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("1Gi", Decimal(2**30)),
        ("1024Mi", Decimal(2**30)),
        ("500m", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        (3, Decimal(3)),
        (0.5, Decimal("0.5")),
    ],
)
def test_values_from_the_api_read_as_numbers(value: Any, number: Decimal) -> None:
    assert quantity_or_none(value) == number


@pytest.mark.parametrize("value", ["", "lots", "1Xi", None, True, [], {"a": 1}])
def test_values_that_are_not_quantities_read_as_none(value: Any) -> None:
    assert quantity_or_none(value) is None
