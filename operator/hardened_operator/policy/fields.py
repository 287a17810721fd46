"""Typed reads of JSON-shaped pod specs (pure: no I/O here).

The API server hands us objects that already decoded into Go structs, but ``hardened audit``
reads files written by people, and the webhook must survive hostile bodies. Every read of a
field the policy depends on goes through these helpers: ``None`` (absent or JSON null) means
"unset", exactly like a nil pointer in PSA's Go structs; a value of the wrong JSON type raises
:class:`~hardened_operator.errors.MalformedFieldError`, which the engine turns into a denial.

Paths are built only when something is wrong, so the happy path stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MalformedFieldError

JsonObject = Mapping[str, Any]


def join(parent: str, key: str) -> str:
    """``parent.key``, or just ``key`` at the root of the pod spec."""
    return f"{parent}.{key}" if parent else key


def opt_mapping(obj: JsonObject, key: str, parent: str) -> JsonObject | None:
    value = obj.get(key)
    # `type(...) is dict` first: the common case, and much cheaper than an ABC isinstance.
    if value is None or type(value) is dict or isinstance(value, Mapping):
        return value
    raise MalformedFieldError(join(parent, key), "an object", value)


def opt_list(obj: JsonObject, key: str, parent: str) -> Sequence[Any] | None:
    value = obj.get(key)
    if value is None or type(value) is list or isinstance(value, list | tuple):
        return value
    raise MalformedFieldError(join(parent, key), "a list", value)


def opt_bool(obj: JsonObject, key: str, parent: str) -> bool | None:
    value = obj.get(key)
    if value is None or value is True or value is False:
        return value
    raise MalformedFieldError(join(parent, key), "a boolean (true or false)", value)


def opt_int(obj: JsonObject, key: str, parent: str) -> int | None:
    value = obj.get(key)
    # bool is an int subclass in Python; in JSON it is not a number.
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise MalformedFieldError(join(parent, key), "an integer", value)


def opt_str(obj: JsonObject, key: str, parent: str) -> str | None:
    value = obj.get(key)
    # isinstance after the exact-type fast path: ruamel.yaml (audit --fix) loads str subclasses.
    if value is None or type(value) is str or isinstance(value, str):
        return value
    raise MalformedFieldError(join(parent, key), "a string", value)


def str_items(items: Sequence[Any], path: str) -> Sequence[str]:
    """Every item of a list of strings (capabilities), or a malformed-field error."""
    for index, item in enumerate(items):
        if type(item) is not str and not isinstance(item, str):
            raise MalformedFieldError(f"{path}[{index}]", "a string", item)
    return items


def mapping_item(item: Any, path: str) -> JsonObject:
    """One element of a list of objects (volumes, ports, sysctls)."""
    if type(item) is dict or isinstance(item, Mapping):
        return item
    raise MalformedFieldError(path, "an object", item)
