"""restrictedVolumes (PSA restricted): only configMap, csi, downwardAPI, emptyDir, ephemeral,
image, persistentVolumeClaim, projected and secret volumes.

A volume with no source at all is allowed: the API server defaults it to ``emptyDir`` before
admission (PSA's own fixture ``restrictedvolumes0`` relies on that). Two deliberate
differences, both stricter and both invisible for objects the API server accepts:

- a source key we do not know (a typo, or a volume type newer than v1.37) is denied under its
  own name, where PSA would see an unknown field dropped by the decoder;
- PSA lets a volume through when its *first* source is allowed even if a second, restricted
  source is also set; the API server rejects such volumes, and we deny them.
"""

from __future__ import annotations

from ..check import Check, PodView, allowed, denied, finding, join_quote, pluralize
from ..types import CheckResult, Finding
from ._volumes import volumes

ID = "restrictedVolumes"
_ALLOWED = allowed(ID)
ALLOWED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def check(pod: PodView) -> CheckResult:
    bad: list[str] = []
    bad_types: set[str] = set()
    findings: list[Finding] = []
    for index, name, volume in volumes(pod):
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        restricted = [k for k in sources if k not in ALLOWED_VOLUME_TYPES]
        if restricted:
            bad.append(name)
            bad_types.update(restricted)
            field = f"volumes[{index}].{restricted[0]}"
            findings.append(
                finding(
                    ID,
                    field,
                    f'volume "{name}" uses restricted volume type {join_quote(restricted)}',
                    fix=f'replace volume "{name}" with a configMap, csi, downwardAPI, emptyDir, '
                    "ephemeral, image, persistentVolumeClaim, projected or secret volume",
                )
            )
    if bad:
        detail = (
            f"{pluralize('volume', 'volumes', len(bad))} {join_quote(bad)} "
            f"{pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(bad_types))} "
            f"{join_quote(sorted(bad_types))}"
        )
        return denied(ID, "restricted volume types", detail, findings)
    return _ALLOWED


CHECK = Check(
    id=ID,
    level="restricted",
    profiles=("restricted",),
    func=check,
    summary="only configMap, csi, downwardAPI, emptyDir, ephemeral, image, PVC, projected, "
    "secret volumes",
    overrides=("hostPathVolumes",),
)
