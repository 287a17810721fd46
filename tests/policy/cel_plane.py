"""One control plane, two enforcers: the in-process policy and the webhook, side by side.

``TwoEnforcers`` sets up, in the session's shared kube-apiserver, namespaces judged only by
the generated ValidatingAdmissionPolicy (``inprocess.policy_documents``) and namespaces judged
only by ``hardened webhook`` (registered per mode like ``hardened dev`` does), one of each per
value of the mode label, plus one exempt namespace each. Both are confined to their own
namespaces (an extra ``kubernetes.io/metadata.name In [...]`` term), so the rest of the
session's tests never meet them. Requests are raw JSON (``request``), optionally as another
user (impersonation), and report the HTTP status, the body and the warnings.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardened_operator.conventions import ENFORCE_LABEL
from hardened_operator.dev import manifests
from hardened_operator.inprocess import policy_documents
from hardened_operator.k8s import bootstrap
from hardened_operator.policy import Profile
from tests.support import webhooks

SIDES = ("policy", "webhook")
# The mode label's values: absent, the three modes, "disabled", and one nobody knows.
LABELS: dict[str, str | None] = {
    "absent": None,
    "enforce": "enforce",
    "warn": "warn",
    "audit": "audit",
    "disabled": "disabled",
    "bogus": "bogus",
}
EXEMPT_USER = "exempt-bot"
OTHER_USER = "other-bot"
NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    warnings: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.status in (200, 201)

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))


@dataclass
class TwoEnforcers:
    api: Any
    run: str  # a short unique id of this setup
    namespaces: dict[tuple[str, str], str] = field(default_factory=dict)  # (side, label) -> ns
    policy_name: str = ""

    def ns(self, side: str, label: str = "absent") -> str:
        return self.namespaces[(side, label)]

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        dry_run: bool = True,
        user: str | None = None,
        content_type: str = "application/json",
    ) -> Answer:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if user is not None:
            headers["Impersonate-User"] = user
            headers["Impersonate-Group"] = "system:authenticated"
        method_, url, headers, payload, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=[("dryRun", "All")] if dry_run else [],
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.api.call_api(method_, url, header_params=headers, body=payload)
        data = response.read() or b"{}"
        raw = response.getheaders()
        warnings = tuple(v for k, v in raw.items() if k.lower() == "warning") if raw else ()
        return Answer(response.status, json.loads(data), warnings)


def _collection(obj: dict[str, Any]) -> str:
    from hardened_operator.workloads import POD_BEARING

    (kind,) = [k for k in POD_BEARING if k.kind == obj["kind"]]
    base = f"/apis/{kind.group}/{kind.version}" if kind.group else f"/api/{kind.version}"
    return f"{base}/namespaces/{obj['metadata']['namespace']}/{kind.resource}"


def create_path(obj: dict[str, Any]) -> str:
    return _collection(obj)


def object_path(obj: dict[str, Any]) -> str:
    return f"{_collection(obj)}/{obj['metadata']['name']}"


def _confine(selector: dict[str, Any], names: list[str]) -> None:
    selector.setdefault("matchExpressions", []).append(
        {"key": NAME_LABEL, "operator": "In", "values": sorted(names)}
    )


def wait_for(what: str, probe: Any, timeout: float = 60.0, last: Any = None) -> None:
    """Poll ``probe`` until true; on timeout, fail with ``last()`` (the last answer seen)."""
    deadline = time.monotonic() + timeout
    while True:
        if probe():
            return
        if time.monotonic() > deadline:
            seen = f": {last()}" if last is not None else ""
            raise AssertionError(f"timed out waiting for {what}{seen}")
        time.sleep(0.3)


def root_pod(namespace: str, name: str = "root") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1"}]},
    }


@contextmanager
def two_enforcers(api: Any, tmp: Path, profile: Profile = "nonroot") -> Iterator[TwoEnforcers]:
    """Both enforcers of ``profile``, ready (each has refused a root pod in its enforcing
    namespace)."""
    run = uuid.uuid4().hex[:6]
    setup = TwoEnforcers(api, run)
    with ExitStack() as stack:
        for side in SIDES:
            for label, value in [*LABELS.items(), ("exempt", None)]:
                name = f"cel-{side[:3]}-{label}-{run}"
                bootstrap.create_namespace(api, name)
                stack.callback(bootstrap.delete_namespace, api, name)
                bootstrap.ensure_service_account(api, name)
                if value is not None:
                    from kubernetes import client

                    client.CoreV1Api(api).patch_namespace(
                        name, {"metadata": {"labels": {ENFORCE_LABEL: value}}}
                    )
                setup.namespaces[(side, label)] = name
        mine = {side: [n for (s, _), n in setup.namespaces.items() if s == side] for side in SIDES}
        never = ["kube-system", "hardened-system"]

        # The webhook: `hardened webhook` routed per mode, as `hardened dev` registers it.
        served = stack.enter_context(
            webhooks.local_webhook(
                tmp,
                "--exempt-namespace",
                setup.ns("webhook", "exempt"),
                "--exempt-username",
                EXEMPT_USER,
                "--profile",
                profile,
            )
        )
        vwc = manifests.mode_routed_webhook_configuration(
            served.url, served.ca_pem, name=f"cel-diff-{run}"
        )
        for hook in vwc["webhooks"]:
            for term in hook["namespaceSelector"]["matchExpressions"]:
                if term["key"] == NAME_LABEL:
                    term["values"] = [*never, setup.ns("webhook", "exempt")]
            _confine(hook["namespaceSelector"], mine["webhook"])
        bootstrap.apply_validating_webhook_configuration(api, vwc)
        stack.callback(
            bootstrap.delete_validating_webhook_configuration, api, vwc["metadata"]["name"]
        )

        # The policy: generated, with the same exemptions, confined the same way.
        setup.policy_name = f"cel-diff-{run}"
        documents = policy_documents(
            profile,
            name=setup.policy_name,
            exempt_namespaces=[*never, setup.ns("policy", "exempt")],
            exempt_usernames=[EXEMPT_USER],
        )
        for document in documents[1:]:
            _confine(document["spec"]["matchResources"]["namespaceSelector"], mine["policy"])
        stack.callback(delete_policy, api, documents)
        apply_policy(api, documents)

        for side in SIDES:
            pod = root_pod(setup.ns(side))
            wait_for(
                f"the {side} to refuse a root pod",
                lambda pod=pod: (
                    "hardened-operator" in setup.request("POST", create_path(pod), pod).message
                ),
            )
        # Bindings and their namespaces are picked up asynchronously: wait for the warn one.
        for side in SIDES:
            pod = root_pod(setup.ns(side, "warn"))
            wait_for(
                f"the {side}'s warn mode",
                lambda pod=pod: bool(setup.request("POST", create_path(pod), pod).warnings),
                last=lambda pod=pod: setup.request("POST", create_path(pod), pod),
            )
        yield setup


def apply_policy(api: Any, documents: list[dict[str, Any]]) -> None:
    from kubernetes import client

    admission = client.AdmissionregistrationV1Api(api)
    policy, *bindings = copy.deepcopy(documents)
    # The client's models would drop what they do not know; the API takes the JSON as is.
    admission.create_validating_admission_policy(policy)  # type: ignore[arg-type]
    for document in bindings:
        admission.create_validating_admission_policy_binding(document)  # type: ignore[arg-type]


def delete_policy(api: Any, documents: list[dict[str, Any]]) -> None:
    from kubernetes import client

    admission = client.AdmissionregistrationV1Api(api)
    policy, *bindings = documents
    for document in bindings:
        admission.delete_validating_admission_policy_binding(document["metadata"]["name"])
    admission.delete_validating_admission_policy(policy["metadata"]["name"])
