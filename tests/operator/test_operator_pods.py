"""What the pods say, as the Ready reason (pure): pod status objects as the kubelet and the
scheduler write them, in; one problem out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hardened_operator.controller import pods as pl

SELECTOR = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/instance": "web",
    "app.kubernetes.io/component": "workload",
}


def pod(
    name: str = "web-6d9f7c8b5-x2x7q",
    *,
    conditions: list[dict[str, Any]] | None = None,
    containers: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    phase: str = "Pending",
    labels: dict[str, str] | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    """A Pod as GET returns it (the fields the kubelet writes; spec left out)."""
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "demo",
        "labels": {**SELECTOR, "app.kubernetes.io/managed-by": "hardened-operator"}
        if labels is None
        else labels,
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d9f7c8b5"}
        ],
    }
    if deleting:
        meta["deletionTimestamp"] = "2026-12-06T04:00:00Z"
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    if containers is not None:
        status["containerStatuses"] = containers
    if init is not None:
        status["initContainerStatuses"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": status}


SCHEDULED = {"type": "PodScheduled", "status": "True", "lastProbeTime": None}
UNSCHEDULABLE = {
    "type": "PodScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "lastProbeTime": None,
    "lastTransitionTime": "2026-12-06T04:01:02Z",
    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 nodes are"
    " available: 1 No preemption victims found for incoming pod.",
}


def waiting(reason: str, message: str = "", *, restarts: int = 0, **extra: Any) -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if message:
        state["message"] = message
    return {
        "name": "app",
        "image": "registry.example.com/ai/web:1.0",
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": restarts,
        "state": {"waiting": state},
        **extra,
    }


CRASHED = {
    "terminated": {
        "exitCode": 1,
        "reason": "Error",
        "startedAt": "2026-12-06T04:02:00Z",
        "finishedAt": "2026-12-06T04:02:01Z",
        "containerID": "containerd://0f1e",
    }
}


def running(
    *, ready: bool, restarts: int = 0, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": "app",
        "image": "registry.example.com/ai/web:1.0",
        "imageID": "registry.example.com/ai/web@sha256:ab12",
        "containerID": "containerd://9a8b",
        "ready": ready,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": "2026-12-06T04:03:00Z"}},
        "lastState": last or {},
    }


PULL_MESSAGE = (
    'failed to pull and unpack image "registry.example.com/ai/web:1.0": failed to resolve'
    ' reference "registry.example.com/ai/web:1.0": registry.example.com/ai/web:1.0: not found'
)

# (id, pods, previous Ready reason, expected reason or None, hard, words in the message)
CASES: list[tuple[str, list[dict[str, Any]], str | None, str | None, bool, list[str]]] = [
    (
        "unschedulable gpu",
        [pod(conditions=[UNSCHEDULABLE])],
        None,
        "Unschedulable",
        True,
        ["web-6d9f7c8b5-x2x7q", "0/1 nodes are available: 1 Insufficient nvidia.com/gpu"],
    ),
    (
        "first failed pull is not hard yet",
        [pod(conditions=[SCHEDULED], containers=[waiting("ErrImagePull", PULL_MESSAGE)])],
        None,
        "ErrImagePull",
        False,
        ['container "app"', "not found"],
    ),
    (
        "back-off after a failed retry is hard",
        [
            pod(
                conditions=[SCHEDULED],
                containers=[
                    waiting(
                        "ImagePullBackOff",
                        'Back-off pulling image "registry.example.com/ai/web:1.0"',
                    )
                ],
            )
        ],
        "ErrImagePull",
        "ImagePullBackOff",
        True,
        ['container "app"', "Back-off pulling image"],
    ),
    (
        "ErrImagePull again between two back-offs stays hard",
        [pod(conditions=[SCHEDULED], containers=[waiting("ErrImagePull", PULL_MESSAGE)])],
        "ImagePullBackOff",
        "ImagePullBackOff",
        True,
        ["ErrImagePull", "not found"],
    ),
    (
        "invalid image name",
        [
            pod(
                conditions=[SCHEDULED],
                containers=[
                    waiting(
                        "InvalidImageName",
                        'Failed to apply default image tag "Web:Latest": couldn\'t parse image'
                        ' name "Web:Latest": invalid reference format',
                    )
                ],
            )
        ],
        None,
        "InvalidImageName",
        True,
        ["invalid reference format"],
    ),
    (
        "missing secret",
        [
            pod(
                conditions=[SCHEDULED],
                containers=[waiting("CreateContainerConfigError", 'secret "db-creds" not found')],
            )
        ],
        None,
        "CreateContainerConfigError",
        True,
        ['container "app"', 'secret "db-creds" not found'],
    ),
    (
        "create container error is soft",
        [
            pod(
                conditions=[SCHEDULED],
                containers=[
                    waiting(
                        "CreateContainerError",
                        "context deadline exceeded",
                    )
                ],
            )
        ],
        None,
        "CreateContainerError",
        False,
        ["context deadline exceeded"],
    ),
    (
        "crash loop",
        [
            pod(
                phase="Running",
                conditions=[SCHEDULED],
                containers=[
                    waiting(
                        "CrashLoopBackOff",
                        "back-off 40s restarting failed container=app"
                        " pod=web-6d9f7c8b5-x2x7q_demo(3f2a)",
                        restarts=3,
                        lastState=CRASHED,
                    )
                ],
            )
        ],
        None,
        "CrashLoopBackOff",
        True,
        ["back-off 40s", "Error, exit code 1"],
    ),
    (
        "crash loop: running again but not ready keeps the reason",
        [
            pod(
                phase="Running",
                conditions=[SCHEDULED],
                containers=[running(ready=False, restarts=4, last=CRASHED)],
            )
        ],
        "CrashLoopBackOff",
        "CrashLoopBackOff",
        True,
        ["restarted 4 times", "Error, exit code 1"],
    ),
    (
        "running after an old restart, not ready: readiness, not a crash loop",
        [
            pod(
                phase="Running",
                conditions=[SCHEDULED],
                containers=[running(ready=False, restarts=1, last=CRASHED)],
            )
        ],
        "WaitingForReplicas",
        "WaitingForReplicas",
        False,
        ["running but not ready", "readiness probe"],
    ),
    (
        "readiness failing",
        [pod(phase="Running", conditions=[SCHEDULED], containers=[running(ready=False)])],
        None,
        "WaitingForReplicas",
        False,
        ['container "app"', "running but not ready"],
    ),
    (
        "init container cannot pull",
        [
            pod(
                conditions=[SCHEDULED],
                init=[{**waiting("ImagePullBackOff", "Back-off pulling image"), "name": "fetch"}],
                containers=[waiting("PodInitializing")],
            )
        ],
        None,
        "ImagePullBackOff",
        True,
        ['init container "fetch"'],
    ),
    (
        "still creating: nothing to say",
        [pod(conditions=[SCHEDULED], containers=[waiting("ContainerCreating")])],
        None,
        None,
        False,
        [],
    ),
    (
        "ready pod: nothing to say",
        [pod(phase="Running", conditions=[SCHEDULED], containers=[running(ready=True)])],
        None,
        None,
        False,
        [],
    ),
    (
        "not scheduled yet, no verdict from the scheduler",
        [pod(conditions=[])],
        None,
        None,
        False,
        [],
    ),
    (
        "a terminating pod of the old ReplicaSet is not looked at",
        [pod(deleting=True, conditions=[UNSCHEDULABLE])],
        None,
        None,
        False,
        [],
    ),
    (
        "worst wins: config error over a slow readiness",
        [
            pod(
                "web-a", phase="Running", conditions=[SCHEDULED], containers=[running(ready=False)]
            ),
            pod(
                "web-b",
                conditions=[SCHEDULED],
                containers=[waiting("CreateContainerConfigError", 'configmap "cfg" not found')],
            ),
        ],
        None,
        "CreateContainerConfigError",
        True,
        ["web-b", 'configmap "cfg" not found'],
    ),
    (
        "same problem on two pods: the first by name, and a count",
        [pod("web-z", conditions=[UNSCHEDULABLE]), pod("web-a", conditions=[UNSCHEDULABLE])],
        None,
        "Unschedulable",
        True,
        ["pod web-a", "(and 1 more pod)"],
    ),
]


@pytest.mark.parametrize(
    ("pods", "previous", "reason", "hard", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_pod_problem(
    pods: list[dict[str, Any]],
    previous: str | None,
    reason: str | None,
    hard: bool,
    words: list[str],
) -> None:
    problem = pl.pod_problem(pods, previous_reason=previous)
    if reason is None:
        assert problem is None
        return
    assert problem is not None
    assert (problem.reason, problem.hard) == (reason, hard)
    for word in words:
        assert word in problem.message


def test_answer_does_not_depend_on_list_order() -> None:
    pods = next(case[1] for case in CASES if case[0].startswith("worst wins"))
    assert pl.pod_problem(pods) == pl.pod_problem(list(reversed(copy.deepcopy(pods))))


def test_selected_takes_the_workload_pods_only() -> None:
    workload = pod("web-1")
    debug = pod("web-debug-1", labels={**SELECTOR, "app.kubernetes.io/component": "debug"})
    other = pod("webx-1", labels={**SELECTOR, "app.kubernetes.io/instance": "webx"})
    assert pl.selected([workload, debug, other], SELECTOR) == [workload]
    assert pl.selected([workload], {}) == []  # no selector: nothing, never everything


def test_hard_reasons_are_documented_as_hard() -> None:
    assert {
        "InvalidImageName",
        "CreateContainerConfigError",
        "ImagePullBackOff",
        "CrashLoopBackOff",
        "Unschedulable",
    } == pl.HARD
    assert pl.HARD <= pl.REASONS and "WaitingForReplicas" not in pl.REASONS
