"""Validation: a mapping (YAML, the API) → a typed HardenedService, with errors that name the
field (pure: no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from hardened_operator.errors import SpecValidationError
from hardened_operator.model.resource import HardenedService

# pydantic adds the union branch it tried to an error's location ("int", "constrained-str",
# "function-after[...]"); they are not fields, so they are dropped from the path we report.
_UNION_TAGS = frozenset({"int", "str", "constrained-str", "float", "bool", "[key]"})


def parse(obj: Mapping[str, Any]) -> HardenedService:
    """Validate a HardenedService object (as read from YAML or the API).

    ``status`` is ignored: it is the operator's output, never an input, and a status written by
    an older operator must not block reconciling the spec. Raises ``SpecValidationError`` whose
    ``field`` is the first offending path (``spec.securityContext.runAsUser``) and whose message
    lists every problem, each prefixed by its path.
    """
    if not isinstance(obj, Mapping):
        raise SpecValidationError(
            f"a HardenedService must be a mapping, not {type(obj).__name__}", field=None
        )
    data = {key: _plain(value) for key, value in obj.items() if key != "status"}
    try:
        return HardenedService.model_validate(data)
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            path = field_path(err["loc"])
            # An int-or-string field fails once per branch; the first branch's error is the
            # one that matches the input's type, the others only add noise.
            if all(seen != path for seen, _ in problems):
                problems.append((path, _message(err)))
        first_field = problems[0][0] if problems else None
        lines = "; ".join(f"{path or '<object>'}: {message}" for path, message in problems)
        raise SpecValidationError(lines, field=first_field or None) from None


def _plain(value: Any) -> Any:
    """Mapping/sequence views (kopf's Body, MappingProxyType, tuples) → dicts and lists, so what
    passes through verbatim (affinity terms) is plain data the YAML and JSON dumpers accept."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def field_path(loc: Sequence[int | str]) -> str:
    """pydantic's location tuple → ``spec.ports[0].containerPort``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _UNION_TAGS or part.startswith("constrained-") or "[" in part:
            continue
        else:
            path += f".{part}" if path else part
    return path


_ROOT_IDS = frozenset({"runAsUser", "runAsGroup", "fsGroup"})


def _message(err: Mapping[str, Any]) -> str:
    message = str(err["msg"])
    loc = err["loc"]
    if err.get("input") == 0 and loc and loc[-1] in _ROOT_IDS:
        return f"0 is root and is never allowed; use a non-root ID such as 1000 ({message})"
    if err["type"] == "extra_forbidden":
        return "unknown field (check the spelling; see `kubectl explain hardenedservice.spec`)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "value_error":
        return message.removeprefix("Value error, ")  # our own validators' words
    value = err.get("input")
    if isinstance(value, str | int | float | bool) and not isinstance(value, Mapping):
        return f"{message} (got {value!r})"
    return message
