"""CustomResourceDefinitions a test installs for itself and removes after.

Other tests on the same (session-wide) API server expect such a CRD absent -- ``hardened run
--reports`` without the PolicyReport CRD says so and keeps going -- so a test that needs one
installs it for its own duration only, and waits until it is really gone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hardened_operator.k8s import bootstrap
from hardened_operator.reports import ReportApi
from tests.support.chart import CHART


def report_crd(api: ReportApi) -> dict[str, Any]:
    """The CRD of report API ``api`` as the chart vendors it (``reports.installCRD``; the file
    is named after the CRD), as the operator expects it."""
    path = CHART / "files" / f"{api.crd_name}.yaml"
    manifest: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return manifest


def crd_absent(api: Any, name: str) -> bool:
    try:
        client.ApiextensionsV1Api(api).read_custom_resource_definition(name)
    except ApiException as error:
        if error.status == 404:
            return True
        raise
    return False


def remove_crd(api: Any, name: str, timeout: float = 60.0) -> None:
    """Delete the CRD ``name`` if it exists, and wait until the server no longer has it."""
    if crd_absent(api, name):
        return
    try:
        client.ApiextensionsV1Api(api).delete_custom_resource_definition(name)
    except ApiException as error:
        if error.status != 404:  # gone in between: what we wanted
            raise
    deadline = time.monotonic() + timeout
    while not crd_absent(api, name):
        assert time.monotonic() < deadline, f"CRD {name} not gone after {timeout:.0f} s"
        time.sleep(0.2)


@contextlib.contextmanager
def installed_crds(api: Any, manifests: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """``manifests`` installed and Established for the block, removed after (also those
    installed before one failed)."""
    try:
        for manifest in manifests:
            bootstrap.install_crd(api, manifest)
        yield
    finally:
        for manifest in manifests:
            remove_crd(api, str(manifest["metadata"]["name"]))
