"""appArmorProfile (PSA baseline): AppArmor may not be disabled or overridden.

Both channels PSA reads: the ``appArmorProfile.type`` fields (pod and containers: only
RuntimeDefault or Localhost) and the deprecated
``container.apparmor.security.beta.kubernetes.io/*`` annotations (only empty,
``runtime/default`` or ``localhost/*``).
"""

from __future__ import annotations

from ..check import (
    Check,
    PodView,
    allowed,
    containers_phrase,
    denied,
    finding,
    join_quote,
    pluralize,
)
from ..fields import opt_mapping, opt_str
from ..types import CheckResult, Finding
from ._common import container_sub

ID = "appArmorProfile"
_ALLOWED = allowed(ID)
ALLOWED_TYPES = frozenset({"RuntimeDefault", "Localhost"})
ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def _annotation_allowed(value: str) -> bool:
    return value == "" or value == "runtime/default" or value.startswith("localhost/")


def check(pod: PodView) -> CheckResult:
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    findings: list[Finding] = []

    sc = pod.security_context
    profile = None if sc is None else opt_mapping(sc, "appArmorProfile", "securityContext")
    if profile is not None:
        value = opt_str(profile, "type", "securityContext.appArmorProfile") or ""
        if value not in ALLOWED_TYPES:
            bad_setters.append("pod")
            bad_values.add(value)
            field = "securityContext.appArmorProfile.type"
            findings.append(
                finding(
                    ID,
                    field,
                    f'AppArmor profile type "{value}" at pod level '
                    "(only RuntimeDefault or Localhost)",
                    fix_op="set",
                    fix_field=field,
                    fix_value="RuntimeDefault",
                )
            )

    bad_containers: list[str] = []
    for ref in pod.containers:
        profile = container_sub(ref, "appArmorProfile")
        if profile is None:
            continue
        field = ref.field("securityContext", "appArmorProfile", "type")
        value = opt_str(profile, "type", ref.field("securityContext", "appArmorProfile")) or ""
        if value not in ALLOWED_TYPES:
            bad_containers.append(ref.name)
            bad_values.add(value)
            findings.append(
                finding(
                    ID,
                    field,
                    f'AppArmor profile type "{value}" (only RuntimeDefault or Localhost)',
                    ref=ref,
                    fix_op="set",
                    fix_field=field,
                    fix_value="RuntimeDefault",
                )
            )
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))

    bad_annotations: list[str] = []
    for key, value in pod.annotations.items():
        if not isinstance(key, str) or not key.startswith(ANNOTATION_PREFIX):
            continue
        field = f"annotations[{key}]"
        if not isinstance(value, str):
            # Annotation values are strings in the API; anything else cannot be vetted.
            value = repr(value)
        elif _annotation_allowed(value):
            continue
        bad_annotations.append(f'{key}="{value}"')
        findings.append(
            finding(
                ID,
                field,
                f'annotation {key} sets AppArmor profile "{value}"',
                fix_op="set",
                fix_field=field,
                fix_value="runtime/default",
                scope="metadata",
            )
        )
    bad_list = sorted(bad_values)
    if bad_annotations:
        bad_annotations.sort()
        bad_list += bad_annotations
        bad_setters.append(pluralize("annotation", "annotations", len(bad_annotations)))

    if bad_setters:
        reason = pluralize(
            "forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad_list)
        )
        detail = (
            f"{' and '.join(bad_setters)} must not set AppArmor profile type to "
            f"{join_quote(bad_list)}"
        )
        return denied(ID, reason, detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="baseline",
    profiles=("baseline", "restricted"),
    func=check,
    summary="AppArmor only RuntimeDefault or Localhost (fields and beta annotations)",
)
