"""A small memo of policy results, for objects the API server sends again and again.

The same object often comes back unchanged but for bookkeeping: server-side dry runs
(``kubectl apply --dry-run=server``, GitOps diffing every few minutes), retried requests,
several webhooks of one configuration. Evaluating it again gives the same violations, so the
result is remembered under the object's bytes - everything ``workloads.review_object`` could
read - minus metadata that the API server rewrites on every request and the policy never
reads (``managedFields``, ``uid``, ``resourceVersion``, ``creationTimestamp``,
``generation``). Keys are exact bytes: a changed field, a reordered key or another profile
is a miss, never a wrong hit. Errors are not remembered. Bounded in entries and key size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

import orjson

from hardened_operator import workloads
from hardened_operator.policy.types import Profile, Violation

# Rewritten by the API server on every write; never read by the policy.
VOLATILE_METADATA: Final = frozenset(
    {"managedFields", "uid", "resourceVersion", "creationTimestamp", "generation", "selfLink"}
)
MAX_KEY_BYTES: Final = 64 * 1024  # large objects are rare: evaluate them, do not store them


def _key(obj: Mapping[str, Any], profile: Profile) -> bytes | None:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return None  # let review_object report the shape problem, uncached
    stable = {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA}
    try:
        body = orjson.dumps([profile, {**obj, "metadata": stable}])
    except (TypeError, orjson.JSONEncodeError):  # not plain JSON data: do not memoise
        return None
    return body if len(body) <= MAX_KEY_BYTES else None


class ReviewCache:
    """``workloads.review_object`` with a bounded least-recently-used memo in front."""

    def __init__(self, max_entries: int = 512) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[Violation, ...]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def violations(self, obj: Mapping[str, Any], profile: Profile) -> list[Violation]:
        key = _key(obj, profile) if self.max_entries > 0 else None
        if key is not None:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return list(found)
        self.misses += 1
        result = workloads.review_object(obj, profile)  # raises: nothing is stored
        if key is not None:
            self._entries[key] = tuple(result)
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return result

    def __len__(self) -> int:
        return len(self._entries)
