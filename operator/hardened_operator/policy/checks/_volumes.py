"""Reading ``spec.volumes`` once for both volume checks (pure: no I/O here)."""

from __future__ import annotations

from collections.abc import Iterator

from ..check import PodView
from ..fields import JsonObject, mapping_item, opt_list, opt_str


def volumes(pod: PodView) -> Iterator[tuple[int, str, JsonObject]]:
    """(index, name, volume) for every volume; malformed entries raise."""
    for index, item in enumerate(opt_list(pod.spec, "volumes", "") or ()):
        path = f"volumes[{index}]"
        volume = mapping_item(item, path)
        yield index, opt_str(volume, "name", path) or "", volume
