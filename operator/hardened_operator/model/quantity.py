"""Kubernetes quantities as exact decimals: the one parser (pure: no I/O here).

Used by the model's cross-field checks (requests ≤ limits, whole numbers for extended
resources), by the drift comparison (``1024Mi`` == ``1Gi``) and by ``hardened convert``
(reservations ≤ limits). The schema's grammar is ``base.QUANTITY_PATTERN``; this parser accepts
the same strings.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

_BINARY: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_SPLIT: Final = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$")


def parse_quantity(value: int | str) -> Decimal:
    """``"1.5Gi"`` → ``Decimal(1610612736)``; ``"500m"`` → ``Decimal("0.5")``.

    Raises ``ValueError`` for anything that is not a quantity.
    """
    if isinstance(value, int):
        return Decimal(value)
    match = _SPLIT.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a quantity")
    number, suffix = match.groups()
    try:
        amount = Decimal(number)
        if suffix in _BINARY:
            return amount * (Decimal(2) ** _BINARY[suffix])
        if suffix in _DECIMAL:
            return amount.scaleb(_DECIMAL[suffix])
        if suffix[:1] in ("e", "E"):
            return amount.scaleb(int(suffix[1:]))
    except (InvalidOperation, ValueError):
        pass
    raise ValueError(f"{value!r} is not a quantity")


def quantity_or_none(value: object) -> Decimal | None:
    """A quantity read from JSON (string, integer or float), or None when it is not one.

    Booleans are not quantities, although Python counts them as integers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    try:
        return parse_quantity(value)
    except ValueError:
        return None
