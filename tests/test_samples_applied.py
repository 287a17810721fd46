"""Samples are tests: every Kubernetes object a user can copy from docs/ or manifests/samples/
is sent to a real API server, which must store it — or, for an example named ``invalid-*``,
refuse it.

Namespaced objects are created for real (not dry-run) in a fresh namespace (cluster-scoped
ones, such as a documented ClusterRole, with a server-side dry run), so the CRD's schema,
defaulting and every admission plugin of the control plane judge them as they would a user's.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from hardened_operator.reports import REPORT_APIS
from tests.support import crds

REPO = Path(__file__).resolve().parents[1]
FILE_GLOBS = ("docs/examples/**/*.yaml", "docs/examples/**/*.yml", "manifests/samples/*.yaml")
MARKDOWN = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# A cluster export (`kubectl get -o yaml` output: uids, ownerReferences, a Pod's
# ephemeralContainers) is the audit's input, not something to apply: the API refuses
# ephemeralContainers on create. tests/audit/test_audit_examples.py runs the documented audit.
EXPORT_SUFFIX = "-export.yaml"
# Samples of kinds the chart can install the CRD of, but the plane does not have by default
# (docs/reports.md shows a PolicyReport and an OpenReports Report): the CRD is applied for that
# sample only, and removed after, because other tests need it absent.
OPTIONAL_CRDS = {api.group: functools.partial(crds.report_crd, api) for api in REPORT_APIS.values()}


def _objects(documents: Iterator[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for doc in documents:
        if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
            continue  # compose files, Helm values, kustomizations' fragments: not API objects
        if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
            found += _objects(iter(doc["items"]))
        elif doc["kind"] not in ("AdmissionReview", "Kustomization"):
            found.append(doc)
    return found


def _samples() -> list[tuple[str, list[dict[str, Any]]]]:
    samples: list[tuple[str, list[dict[str, Any]]]] = []
    for pattern in FILE_GLOBS:
        for path in sorted(REPO.glob(pattern)):
            if path.name.endswith(EXPORT_SUFFIX):
                continue
            objects = _objects(yaml.safe_load_all(path.read_text()))
            if objects:
                samples.append((str(path.relative_to(REPO)), objects))
    for doc in MARKDOWN:
        blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.DOTALL)
        for index, block in enumerate(blocks):
            objects = _objects(yaml.safe_load_all(block))
            if objects:
                samples.append((f"{doc.relative_to(REPO)}#yaml{index}", objects))
    return samples


SAMPLES = _samples()


def test_the_samples_are_found() -> None:
    # A broken glob must not turn this module into a test of nothing.
    names = {name for name, _ in SAMPLES}
    assert "manifests/samples/gpu-model-server.yaml" in names
    assert "docs/examples/hardenedservice/minimal.yaml" in names
    assert any(name.startswith("README.md#") for name in names)
    assert len(SAMPLES) >= 12, sorted(names)


def _create(client: DynamicClient, obj: dict[str, Any], namespace: str) -> None:
    body = copy.deepcopy(obj)
    resource = _resource(client, body["apiVersion"], body["kind"])
    if resource.namespaced:
        body.setdefault("metadata", {})["namespace"] = namespace
        resource.create(body=body, namespace=namespace)
    else:
        # Created for real it would leak between tests (and sessions): a server-side dry run
        # still goes through validation and every admission plugin, and stores nothing.
        resource.create(body=body, dry_run="All")


def _optional_crds(api: Any, objects: list[dict[str, Any]]) -> AbstractContextManager[None]:
    groups = {str(obj["apiVersion"]).split("/")[0] for obj in objects}
    return crds.installed_crds(
        api, [OPTIONAL_CRDS[g]() for g in sorted(groups & OPTIONAL_CRDS.keys())]
    )


def _resource(client: DynamicClient, api_version: str, kind: str) -> Any:
    # A CRD just established may not be in discovery yet: ask again for a few seconds.
    deadline = time.monotonic() + 15
    while True:
        try:
            return client.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            if time.monotonic() > deadline:
                raise
            client.resources.invalidate_cache()
            time.sleep(0.5)


@pytest.mark.controlplane
@pytest.mark.parametrize(("name", "objects"), SAMPLES, ids=[name for name, _ in SAMPLES])
def test_sample_is_accepted_or_refused_as_documented(
    name: str, objects: list[dict[str, Any]], k8s_api: Any, namespace: str
) -> None:
    refused_by_design = Path(name.split("#")[0]).name.startswith("invalid-")
    errors: list[str] = []
    with _optional_crds(k8s_api, objects):
        client = DynamicClient(k8s_api)  # type: ignore[no-untyped-call]  # kubernetes.dynamic is untyped
        for obj in objects:
            try:
                _create(client, obj, namespace)
            except ApiException as error:
                body = error.body
                detail = json.loads(body).get("message", body) if body else error
                errors.append(f"{obj['kind']}/{obj.get('metadata', {}).get('name')}: {detail}")
    if refused_by_design:
        assert len(errors) == len(objects), f"{name} should be refused, but the API stored it"
        assert all("runAsUser" in message for message in errors), errors
    else:
        assert not errors, f"{name} was refused:\n" + "\n".join(errors)
