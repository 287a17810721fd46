"""Turn a request body into JSON without letting a hostile body hurt the server.

Two layers stop a nesting bomb before any recursion can blow up:

1. ``nesting_depth`` scans the raw bytes for the deepest ``{``/``[`` nesting *outside* JSON
   strings, with C-speed byte operations only (no per-character Python loop on the common
   path), and the body is refused when it exceeds the configured limit. Brackets inside
   strings are ignored on purpose: counting them would let ``"]]]]…"`` in a string hide a
   bomb that follows it.
2. ``orjson`` parses without recursion and refuses anything deeper than 1024 levels itself,
   so even a scan bug could not crash the process.
"""

from __future__ import annotations

import itertools
from typing import Any, Final

import orjson

from hardened_operator.errors import InputError

_STRUCTURAL: Final = b'{}[]"'
_DROP_NON_STRUCTURAL: Final = bytes(b for b in range(256) if b not in _STRUCTURAL)
_STEP = bytearray(range(256))
_STEP[ord("{")] = _STEP[ord("[")] = 1
_STEP[ord("}")] = _STEP[ord("]")] = 0xFF  # -1 once viewed as signed bytes
_DEPTH_STEP: Final = bytes(_STEP)


class BodyError(InputError):
    """A body that is not usable JSON; ``reason`` is a short metric label."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays/objects in ``body``, not counting brackets in strings.

    Exact for valid JSON; for invalid JSON it is still an upper bound on how deep a parser
    gets before it finds the error, because parsers and this scan agree on where strings are
    up to the first syntax error.
    """
    if b"\\" in body:
        # Drop escaped backslashes first, then escaped quotes: what is left of "\" cannot
        # end a string, so every remaining '"' opens or closes one.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = body.translate(None, _DROP_NON_STRUCTURAL)
    skeleton = skeleton.replace(b'""', b"")  # strings without brackets: the common case
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[::2])  # keep what lies outside strings
    opens = skeleton.count(b"{") + skeleton.count(b"[")
    if opens <= 1:
        return opens
    steps = memoryview(skeleton.translate(_DEPTH_STEP)).cast("b")
    return max(itertools.accumulate(steps))


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """Parse ``body``; raise ``BodyError`` for anything that is not sane JSON."""
    # Every level needs an opening bracket, so few brackets anywhere means a shallow body
    # and the scan can be skipped (the usual small review).
    if body.count(b"{") + body.count(b"[") > max_depth:
        depth = nesting_depth(body)
        if depth > max_depth:
            raise BodyError(
                f"request body is nested {depth} levels deep (limit {max_depth})",
                reason="too_deep",
            )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyError(f"request body is not valid JSON: {exc}", reason="not_json") from exc
