"""Two ``hardened run`` replicas with kopf peering: one reconciles, the other stands by (and
keeps serving /healthz and admission), and takes over when the first one stops."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.operator.operator_support import (
    create_hsvc,
    get_hsvc,
    hsvc,
    running_operator,
    stop,
    wait_for,
)

pytestmark = pytest.mark.controlplane

# kopf's namespaced peering resource for a --namespace operator: the very CRD the install
# manifests (and the chart's crds/) ship, so that a broken shipped definition fails here.
KOPF_PEERING_CRD: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[2] / "manifests" / "01-kopf-namespaced-peering-crd.yaml").read_text()
)


def ensure_peering(api: Any, namespace: str, name: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    try:
        # The client validates a plain dict into the model; its annotation names only the model.
        ext.create_custom_resource_definition(KOPF_PEERING_CRD)  # type: ignore[arg-type]
    except ApiException as error:
        if error.status != 409:
            raise

    def created() -> bool:
        try:
            client.CustomObjectsApi(api).create_namespaced_custom_object(
                "kopf.dev", "v1", namespace, "kopfpeerings",
                {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": name}},
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:  # the CRD is not served yet
                return False
            raise
        return True

    wait_for("the KopfPeering object", created)


def reconciled(api: Any, namespace: str, name: str) -> bool:
    status = get_hsvc(api, namespace, name).get("status") or {}
    return status.get("observedGeneration") == 1


def test_one_replica_reconciles_the_other_stands_by_then_takes_over(
    control_plane: Any, k8s_api: Any, namespace: str, tmp_path: Path
) -> None:
    ensure_peering(k8s_api, namespace, "hardened-test")
    env = control_plane.env()
    peering = ("--peering", "hardened-test")
    with running_operator(env, namespace, tmp_path / "b", *peering, "--priority", "10") as standby:
        with running_operator(
            env, namespace, tmp_path / "a", *peering, "--priority", "100"
        ) as active:
            time.sleep(3)  # let the replicas see each other's peering records
            create_hsvc(k8s_api, hsvc("first", namespace))
            wait_for(
                "the active replica to reconcile", lambda: reconciled(k8s_api, namespace, "first")
            )
            assert active.writes() > 0
            assert standby.writes() == 0  # paused: not a single write
            assert standby.get("/healthz")[0] == 200  # alive, serving
            assert "Pausing operations in favour of" in standby.logs()
            stop(active)  # a clean stop removes its peering record
        create_hsvc(k8s_api, hsvc("second", namespace))
        wait_for(
            "the standby to take over",
            lambda: reconciled(k8s_api, namespace, "second"),
            timeout=90,
        )
        assert standby.writes() > 0
