"""The Helm chart rendered in tests, one way: the Helm SDK as ``helm install`` renders it
(``is_install``), release ``hardened-operator`` in ``hardened-system`` unless a test needs
other names. Two shapes of answer: the files (``templates/rbac.yaml`` -> text, NOTES.txt
included) or the objects (every document but NOTES.txt, in the files' order).

The chart is loaded per call (about a millisecond), so a test always sees the files on disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "hardened-operator"
RELEASE = "hardened-operator"
NAMESPACE = "hardened-system"


def render_files(
    values: dict[str, Any] | None = None,
    *,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
    chart: Path | str = CHART,
) -> dict[str, str]:
    """Each rendered file's text by its path inside the chart (``templates/deployment.yaml``,
    ``templates/NOTES.txt``). ``chart``: a chart directory or a packaged ``.tgz``."""
    with helm.Chart.load(chart) as loaded:
        rendered = loaded.render(values or {}, name=name, namespace=namespace, is_install=True)
    return {path.split("/", 1)[1]: text for path, text in rendered.items()}


def render_objects(
    values: dict[str, Any] | None = None,
    *,
    name: str = RELEASE,
    namespace: str = NAMESPACE,
    chart: Path | str = CHART,
    test_hooks: bool = False,
) -> list[dict[str, Any]]:
    """Every object the chart renders (NOTES.txt is not one), ordered by file path.

    ``helm test``'s hooks (``templates/tests/``) are not installed by ``helm install``: they
    come only with ``test_hooks=True``."""
    files = render_files(values, name=name, namespace=namespace, chart=chart)
    return [
        doc
        for path, text in sorted(files.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc and (test_hooks or not is_test_hook(doc))
    ]


def is_test_hook(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return "test" in str(annotations.get("helm.sh/hook", "")).split(",")
