"""``hardened verify``'s probe Pods, and what the API server's answers to them mean (pure).

Two Pods are sent with a server-side dry run (admission runs in full; nothing is stored,
scheduled or pulled): a *root* probe, compliant with every check except one container setting
``runAsUser: 0``, and a *compliant* probe, hardened as the operator builds pods. Enforcement is
shown only when the root probe is refused **with hardened-operator's own finding** for it
(``policy.checks.run_as_user.ROOT_MESSAGE``: the webhook and the in-process policy word it
alike) and the compliant probe is admitted. Anything else is named, never guessed:

* the root probe admitted: not enforced here (warn or audit mode, an exempt namespace or user,
  nothing installed, a profile that allows root);
* refused by something else (Pod Security Admission, an unreachable webhook failing closed,
  RBAC, a quota), or the compliant probe refused too: the answer cannot show that
  hardened-operator enforces - a refusal of everything is an outage, not enforcement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from hardened_operator.conventions import APP_GID, APP_UID
from hardened_operator.policy.checks.run_as_user import ROOT_MESSAGE

PROBE_LABEL: Final = "hardened.ai-system.io/probe"
DEFAULT_IMAGE: Final = "registry.k8s.io/pause:3.10"  # never pulled: a dry run stops before
ROOT_CONTAINER: Final = "runs-as-root"

Outcome = Literal["enforced", "not-enforced", "unknown"]


def _pod(probe: str, image: str, container_security: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": f"hardened-verify-{probe}-",
            "labels": {PROBE_LABEL: probe},
        },
        "spec": {
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": APP_UID,
                "runAsGroup": APP_GID,
                "fsGroup": APP_GID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": ROOT_CONTAINER if probe == "root" else "app",
                    "image": image,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                        **container_security,
                    },
                }
            ],
        },
    }


def root_probe(image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    """Hardened in every way but one: its container asks for UID 0."""
    return _pod("root", image, {"runAsUser": 0})


def compliant_probe(image: str = DEFAULT_IMAGE) -> dict[str, Any]:
    return _pod("compliant", image, {"runAsNonRoot": True})


@dataclass(frozen=True)
class Answer:
    """What the API server said to one dry-run create."""

    status: int  # HTTP status: 201 admitted
    message: str  # the Status message of a refusal, "" when admitted
    warnings: tuple[str, ...] = ()

    @property
    def admitted(self) -> bool:
        return 200 <= self.status <= 299


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    lines: tuple[str, ...]  # what to print, first line the conclusion


_WARNING_TEXT = re.compile(r'^\d{3} \S+ "(.*)"$', re.DOTALL)


def warning_text(header_value: str) -> str:
    """The text of one ``Warning`` header (RFC 7234: ``299 - "text"``), unquoted."""
    match = _WARNING_TEXT.match(header_value.strip())
    if match is None:
        return header_value.strip()
    return match.group(1).replace('\\"', '"').replace("\\\\", "\\")


def _ours(text: str) -> bool:
    return ROOT_MESSAGE in text


def _quote(label: str, text: str) -> str:
    return f"  {label}: {text}"


def judge(namespace: str, root: Answer, compliant: Answer) -> Verdict:
    """What the two answers show about namespace ``namespace`` (see the module docstring)."""
    where = f'namespace "{namespace}"'
    if root.admitted:
        ours_warned = [w for w in root.warnings if _ours(w)]
        if ours_warned:
            reason = "hardened-operator only warned (warn mode)"
        else:
            reason = (
                "nothing refused it (audit mode, an exempt namespace or user, a profile that "
                "allows root, or hardened-operator not installed)"
            )
        lines = [f"NOT ENFORCED in {where}: a pod running as root would be admitted: {reason}"]
        lines += [_quote("warning", w) for w in root.warnings]
        return Verdict("not-enforced", tuple(lines))
    if not _ours(root.message):
        return Verdict(
            "unknown",
            (
                f"UNKNOWN in {where}: the root probe was refused, but not by "
                "hardened-operator's policy, so this cannot show that hardened-operator "
                "enforces here",
                _quote(f"refused (HTTP {root.status})", root.message),
            ),
        )
    if not compliant.admitted:
        return Verdict(
            "unknown",
            (
                f"UNKNOWN in {where}: the root probe was refused by hardened-operator, but a "
                "compliant pod was refused too, so pods cannot be created here at all",
                _quote(f"compliant probe refused (HTTP {compliant.status})", compliant.message),
            ),
        )
    return Verdict(
        "enforced",
        (
            f"ENFORCED in {where}: a pod running as root is refused by hardened-operator, "
            "a compliant pod is admitted",
            _quote(f"refused (HTTP {root.status})", root.message),
        ),
    )


def exit_code(outcome: Outcome) -> int:
    """0 enforced, 1 not enforced, 2 cannot tell (the CLI's convention for unusable input)."""
    return {"enforced": 0, "not-enforced": 1, "unknown": 2}[outcome]


def overall(outcomes: Sequence[Outcome]) -> Outcome:
    """Of several namespaces: a root pod admitted anywhere decides, then any doubt."""
    for worst in ("not-enforced", "unknown"):
        if worst in outcomes:
            return worst
    return "enforced" if outcomes else "unknown"


def warnings_from(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(warning_text(v) for v in values)
