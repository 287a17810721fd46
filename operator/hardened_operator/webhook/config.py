"""The webhook's settings: one frozen value, validated once at start-up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from hardened_operator.conventions import OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.errors import PolicyError
from hardened_operator.model.names import is_dns1123_label
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES, Profile

Mode = Literal["enforce", "warn", "audit"]
MODES: Final[tuple[Mode, ...]] = ("enforce", "warn", "audit")

# The API server's request body limit is 3 MiB per object; an UPDATE review carries both the
# new and the old object, so twice that is the largest honest AdmissionReview.
DEFAULT_MAX_BODY_BYTES: Final = 6 * 1024 * 1024
# Real AdmissionReviews nest about 20 levels deep (managedFields included). 256 is far above
# that and far below orjson's own hard limit (1024) and Python's recursion limit (1000); it
# is also high enough that most reviews skip the exact scan (see ``jsonbody.parse_json``).
DEFAULT_MAX_DEPTH: Final = 256
MAX_DEPTH_CEILING: Final = 1000
# Bodies above this are decoded and evaluated in a separate, lower-priority process
# (``webhook.offload``): a review's cost grows with its size (3.3 MiB with 40,000 containers
# takes seconds), and on the event loop it would stall every request queued behind it.
# Real reviews are 2-20 KB; 32 KiB of the smallest containers costs tens of milliseconds.
DEFAULT_LARGE_BODY_BYTES: Final = 32 * 1024


def default_exempt_namespaces(
    operator_namespace: str = OPERATOR_NAMESPACE_DEFAULT,
) -> frozenset[str]:
    """``kube-system`` and the operator's own namespace: the defaults PSA users expect."""
    return frozenset({"kube-system", operator_namespace})


def _as_frozenset(values: Iterable[str] | str) -> frozenset[str]:
    if isinstance(values, str):  # a lone string would otherwise become a set of characters
        return frozenset({values})
    return frozenset(values)


@dataclass(frozen=True)
class WebhookConfig:
    """What the admission webhook enforces and whom it trusts.

    Exemptions are exact matches: ``kube-system`` exempts that namespace only, never
    ``kube-system-evil``. Namespace names must be DNS-1123 labels, so a pattern such as
    ``kube-*`` is refused rather than silently matching nothing.
    """

    profile: Profile = DEFAULT_PROFILE
    exempt_namespaces: frozenset[str] = field(default_factory=default_exempt_namespaces)
    exempt_usernames: frozenset[str] = frozenset()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    cache_entries: int = 512  # policy results remembered per app (webhook.cache); 0 = off
    # Large reviews (webhook.offload): evaluated by ``large_workers`` processes; at most
    # ``large_in_flight`` at once per server (more are refused with HTTP 429 before their
    # body is read); one not answered within ``large_timeout`` seconds gets HTTP 503. The API
    # server's timeout is 5 s in the shipped configuration: answer before it gives up.
    large_body_bytes: int = DEFAULT_LARGE_BODY_BYTES
    large_workers: int = 1
    large_in_flight: int = 4
    large_timeout: float = 4.0
    # Slow clients (slowloris): a request's head must arrive within ``header_timeout`` seconds
    # of its first byte (or of the connection being accepted), its body within
    # ``body_timeout``; an idle keep-alive connection is closed after ``idle_timeout`` (longer
    # than the API server's own 90 s idle timeout, so it closes first and never races us).
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 120.0

    def __post_init__(self) -> None:
        namespaces = _as_frozenset(self.exempt_namespaces)
        usernames = _as_frozenset(self.exempt_usernames)
        object.__setattr__(self, "exempt_namespaces", namespaces)
        object.__setattr__(self, "exempt_usernames", usernames)
        if self.profile not in PROFILES:
            raise PolicyError(f"unknown profile {self.profile!r}; expected one of {PROFILES}")
        for name in namespaces:
            if not isinstance(name, str) or not is_dns1123_label(name):
                raise PolicyError(
                    f"exempt namespace {name!r} is not a namespace name "
                    "(exact DNS-1123 labels only; patterns are not supported)"
                )
        for user in usernames:
            if not isinstance(user, str) or not user.strip():
                raise PolicyError(f"exempt username {user!r} must be a non-empty string")
        if self.max_body_bytes < 1024:
            raise PolicyError(f"max_body_bytes {self.max_body_bytes} is too small (< 1024)")
        if self.cache_entries < 0:
            raise PolicyError(f"cache_entries {self.cache_entries} must be >= 0")
        if self.large_body_bytes < 1024:
            raise PolicyError(f"large_body_bytes {self.large_body_bytes} is too small (< 1024)")
        if self.large_workers < 1 or self.large_in_flight < 1:
            raise PolicyError("large_workers and large_in_flight must be >= 1")
        for name in ("large_timeout", "header_timeout", "body_timeout", "idle_timeout"):
            if not 0 < getattr(self, name) <= 3600:
                raise PolicyError(f"{name} {getattr(self, name)} must be in (0, 3600] seconds")
        if not 8 <= self.max_depth <= MAX_DEPTH_CEILING:
            raise PolicyError(f"max_depth {self.max_depth} is outside 8..{MAX_DEPTH_CEILING}")
