"""The benchmark's baseline: a kopf operator that watches HardenedServices and does nothing.

Same kopf, same watch, same namespace scoping and logging as ``hardened run`` -- only the
work is missing. It appends the number of distinct objects seen to ``--progress`` so the
benchmark can time it the same way it times the real operator.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import kopf

from hardened_operator import API_GROUP, API_VERSION, PLURAL


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--progress", type=Path, required=True)
    args = parser.parse_args()
    registry = kopf.OperatorRegistry()
    seen: set[str] = set()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        return kopf.login_via_client(**kwargs)

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.WARNING

    @kopf.on.event(API_GROUP, API_VERSION, PLURAL, id="noop", registry=registry)
    def noop(*, uid: str, **_: Any) -> None:
        if uid not in seen:
            seen.add(uid)
            args.progress.write_text(str(len(seen)))

    kopf.configure(log_format=kopf.LogFormat.FULL)
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    kopf.run(registry=registry, standalone=True, namespaces=[args.namespace])


if __name__ == "__main__":
    main()
