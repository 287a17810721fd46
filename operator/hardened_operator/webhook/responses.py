"""AdmissionReview responses: the only shapes the webhook ever sends back (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from hardened_operator.policy.types import Violation

API_VERSION: Final = "admission.k8s.io/v1"
KIND: Final = "AdmissionReview"

# kube-apiserver shortens warnings to 256 characters each once their total passes 4 KiB and
# then drops the rest; staying under both keeps every warning readable in kubectl.
MAX_WARNING_CHARS: Final = 256
MAX_WARNINGS: Final = 12
# A denial lists violations one after another; past this the message says how many remain.
MAX_LISTED_VIOLATIONS: Final = 20
MAX_MESSAGE_CHARS: Final = 8 * 1024


def review(uid: str, response: dict[str, Any]) -> dict[str, Any]:
    """Wrap a response body into the AdmissionReview the API server expects."""
    response["uid"] = uid
    return {"apiVersion": API_VERSION, "kind": KIND, "response": response}


def allowed(uid: str) -> dict[str, Any]:
    return review(uid, {"allowed": True})


def denied(uid: str, *, code: int, reason: str, message: str) -> dict[str, Any]:
    """``allowed: false`` with a Status the API server shows to the user verbatim."""
    status = {"status": "Failure", "code": code, "reason": reason, "message": message}
    return review(uid, {"allowed": False, "status": status})


def _printable(text: str) -> str:
    # Warnings travel in HTTP headers: keep them to printable characters.
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _listing(violations: Sequence[Violation]) -> str:
    lines = [v.describe() for v in violations[:MAX_LISTED_VIOLATIONS]]
    hidden = len(violations) - len(lines)
    if hidden > 0:
        lines.append(f"and {hidden} more (run `hardened audit` on the manifest to see all)")
    return _shorten("; ".join(lines), MAX_MESSAGE_CHARS)


def denial_message(profile: str, violations: Sequence[Violation]) -> str:
    count = len(violations)
    noun = "violation" if count == 1 else "violations"
    return f'hardened-operator policy "{profile}": {count} {noun}: {_listing(violations)}'


def shorten_warning(text: str) -> str:
    """Any warning text as kubectl shows it in full: printable, at most 256 characters."""
    return _printable(_shorten(text, MAX_WARNING_CHARS))


def warning_line(profile: str, violation: Violation) -> str:
    """``[profile] field: message (fix: ...)`` within 256 characters, keeping the fix whole.

    The object is the one being applied, so kubectl's context already names it; the field
    path names the container.
    """
    head = f"[{profile}] {violation.field}: "
    tail = f" (fix: {violation.fix})"
    room = MAX_WARNING_CHARS - len(head) - len(tail)
    if room >= 24:
        line = head + _shorten(violation.message, room) + tail
    else:
        line = _shorten(head + violation.message + tail, MAX_WARNING_CHARS)
    return _printable(line)


def warnings(profile: str, violations: Sequence[Violation]) -> list[str]:
    """One short warning per violation, as many as kubectl will show in full."""
    shown = violations[:MAX_WARNINGS]
    out = [warning_line(profile, v) for v in shown]
    if len(violations) > len(shown):
        out.append(
            f"[{profile}] {len(violations) - len(shown)} more violations not shown "
            "(run `hardened audit` on the manifest to see all)"
        )
    return out


def audit_annotations(profile: str, violations: Sequence[Violation]) -> dict[str, str]:
    """Keys the API server records in its audit log, prefixed with the webhook's name."""
    checks = sorted({v.check for v in violations})
    return {
        "profile": profile,
        "checks": ",".join(checks),
        "violations": _listing(violations),
    }
