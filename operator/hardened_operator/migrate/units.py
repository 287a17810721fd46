"""Compose/Docker value formats → Kubernetes ones (durations, memory sizes, CPU counts).

Pure functions; each raises ``ValueError`` with the offending text on input it cannot read.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

# Go's time.ParseDuration units (compose durations are Go durations, e.g. "1m30s").
_DURATION_UNITS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def duration_seconds(value: object) -> Decimal:
    """Parse a compose duration (``"1m30s"``, ``"500ms"``, ``"10s"``; a bare number is seconds)."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    if text in ("0", ""):
        return Decimal(0)
    pos = 0
    total = Decimal(0)
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ValueError(f"not a duration: {value!r} (expected e.g. 30s, 1m30s, 500ms)")
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total


def whole_seconds(value: object, *, minimum: int = 1) -> int:
    """A duration as whole seconds for a probe field, rounded up (probes count in seconds)."""
    return max(minimum, math.ceil(duration_seconds(value)))


# docker/go-units RAMInBytes: binary multiples, case-insensitive, optional "b" suffix.
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(b?)\s*$", re.IGNORECASE)
_BINARY_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_K8S_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi")


def memory_quantity(value: object) -> str:
    """Compose memory (``512m``, ``1.5g``, ``1024``) → an exact Kubernetes quantity (``512Mi``).

    Compose (docker/go-units) reads ``k``/``m``/``g`` as 1024-based, so ``512m`` is 512 MiB,
    not 512 millibytes as Kubernetes would read it.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a memory size: {value!r}")
    match = _MEMORY.match(str(value))
    if match is None:
        raise ValueError(f"not a memory size: {value!r} (expected e.g. 512m, 2g, 1073741824)")
    number = Decimal(match.group(1))
    power = _BINARY_POWERS[match.group(2).lower()]
    size = number * (Decimal(1024) ** power)
    if size != size.to_integral_value():
        size = size.to_integral_value(rounding="ROUND_CEILING")
    total = int(size)
    if total <= 0:
        raise ValueError(f"memory size must be positive: {value!r}")
    exponent = 0
    while exponent < len(_K8S_BINARY_SUFFIXES) - 1 and total % 1024 == 0:
        total //= 1024
        exponent += 1
    return f"{total}{_K8S_BINARY_SUFFIXES[exponent]}"


def cpu_quantity(value: object) -> tuple[str, bool]:
    """Compose ``cpus`` (``"0.5"``, ``2``) → Kubernetes CPU (``500m``, ``2``).

    Returns the quantity and whether it had to be rounded up to a whole millicore.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a CPU count: {value!r}")
    try:
        cpus = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a CPU count: {value!r} (expected e.g. 0.5 or 2)") from None
    if not cpus.is_finite() or cpus <= 0:
        raise ValueError(f"CPU count must be positive: {value!r}")
    if cpus == cpus.to_integral_value():
        return str(int(cpus)), False
    millis = cpus * 1000
    rounded = millis.to_integral_value(rounding="ROUND_CEILING")
    return f"{int(rounded)}m", rounded != millis
