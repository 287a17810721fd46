"""The body guard: the byte scan measures nesting exactly and bombs never reach recursion."""

from __future__ import annotations

import json
import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_operator.webhook.jsonbody import BodyError, nesting_depth, parse_json


def reference_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value, the slow obvious way."""
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


# Strings full of the characters that could fool a scan: brackets, quotes, backslashes.
tricky_text = st.text(alphabet='{}[]"\\/:,abc \n\t\u00e9\u2028', max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_scan_matches_the_decoded_depth(value: Any) -> None:
    for body in (
        orjson.dumps(value),
        json.dumps(value).encode(),
        json.dumps(value, indent=1).encode(),
    ):
        assert nesting_depth(body) == reference_depth(value)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"[" * 100_000,  # unterminated
        # brackets inside a string must not hide the bomb that follows
        b'{"a":"' + b"]" * 5_000 + b'","b":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b'{"a":"\\\\","b":' + b"[" * 300 + b"]" * 300 + b"}",
    ],
    ids=[
        "array bomb",
        "object bomb",
        "unterminated bomb",
        "hidden behind a string",
        "after escapes",
    ],
)
def test_bombs_are_refused_quickly(body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(BodyError) as caught:
        parse_json(body, max_depth=256)
    assert caught.value.reason == "too_deep"
    assert time.perf_counter() - started < 2.0


def test_limit_is_exact() -> None:
    at_limit = b"[" * 256 + b"]" * 256
    assert parse_json(at_limit, max_depth=256) is not None
    with pytest.raises(BodyError):
        parse_json(b"[" * 257 + b"]" * 257, max_depth=256)
    # many brackets inside strings do not count as nesting
    deep_looking = orjson.dumps({"s": "[" * 10_000})
    assert parse_json(deep_looking, max_depth=256) == {"s": "[" * 10_000}


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"{", b'{"a":1,}', b"\xff\xfe", b'{"a": NaN}', b"[1] [2]"],
    ids=["empty", "text", "truncated", "trailing comma", "not utf-8", "NaN", "two documents"],
)
def test_invalid_json_is_refused(body: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        parse_json(body, max_depth=256)
    assert caught.value.reason == "not_json"
