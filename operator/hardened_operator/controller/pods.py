"""What a HardenedService's pods are doing, as one problem (pure: pod objects in, no I/O).

The Deployment's status says only how many replicas are ready; a spec that can never run
(an image that does not exist, a GPU no node has, a Secret that is missing) looks the same
there as a rollout in progress. The kubelet and the scheduler write the why into the pods:

- ``status.conditions[type=PodScheduled]`` ``False``/``Unschedulable`` with the scheduler's
  message (``0/1 nodes are available: 1 Insufficient nvidia.com/gpu. ...``);
- ``status.containerStatuses[]`` (and ``initContainerStatuses[]``) ``state.waiting.reason``
  and ``message`` (``ImagePullBackOff``, ``CreateContainerConfigError``, ...),
  ``restartCount`` and ``lastState.terminated`` after a crash;
- ``ready: false`` on a running container whose readiness probe fails.

:func:`pod_problem` turns those into the reason and message of the Ready condition, and says
whether the problem is *hard* (the HardenedService is Degraded: it will not get better without a
change by someone) or a rollout that is merely slow (Progressing stays True).

Stable on purpose: the kubelet alternates ``ErrImagePull`` and ``ImagePullBackOff`` on every
retry, and a crash-looping container between ``CrashLoopBackOff``, running and terminated.
Following each flip would move Degraded back and forth (a status write and an Event each
time); instead the previous Ready reason is passed in and a problem already reported as hard
stays so while the kubelet is only between two retries of the same failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

UNSCHEDULABLE: Final = "Unschedulable"
IMAGE_PULL_BACK_OFF: Final = "ImagePullBackOff"
ERR_IMAGE_PULL: Final = "ErrImagePull"
INVALID_IMAGE_NAME: Final = "InvalidImageName"
CREATE_CONTAINER_CONFIG_ERROR: Final = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR: Final = "CreateContainerError"
CRASH_LOOP_BACK_OFF: Final = "CrashLoopBackOff"
WAITING_FOR_REPLICAS: Final = "WaitingForReplicas"

# Worst first: the one reported when several pods (or containers) have different problems.
SEVERITY: Final = (
    INVALID_IMAGE_NAME,
    CREATE_CONTAINER_CONFIG_ERROR,
    IMAGE_PULL_BACK_OFF,
    CRASH_LOOP_BACK_OFF,
    UNSCHEDULABLE,
    ERR_IMAGE_PULL,
    CREATE_CONTAINER_ERROR,
    WAITING_FOR_REPLICAS,
)
REASONS: Final = frozenset(SEVERITY) - {WAITING_FOR_REPLICAS}
"""The Ready reasons only pods can give (an Event is recorded when Ready changes to one)."""

# Hard: the kubelet or scheduler keeps retrying the same thing and it keeps failing.
# ErrImagePull is the first failed pull (a registry blip passes); the kubelet's next state,
# ImagePullBackOff, means a retry failed too. CreateContainerError is often transient
# (a name still in use, a runtime timeout), CreateContainerConfigError is not (a missing
# Secret or ConfigMap key, an image that would run as root under runAsNonRoot).
HARD: Final = frozenset(
    {
        INVALID_IMAGE_NAME,
        CREATE_CONTAINER_CONFIG_ERROR,
        IMAGE_PULL_BACK_OFF,
        CRASH_LOOP_BACK_OFF,
        UNSCHEDULABLE,
    }
)


@dataclass(frozen=True)
class PodProblem:
    """Why the pods are not ready: the Ready condition's reason and message."""

    reason: str
    message: str

    @property
    def hard(self) -> bool:
        return self.reason in HARD


def selected(pods: Iterable[Mapping[str, Any]], match_labels: Mapping[str, str]) -> list[Any]:
    """The pods ``match_labels`` selects (a Deployment's ``spec.selector.matchLabels``)."""
    out = []
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if match_labels and all(labels.get(k) == v for k, v in match_labels.items()):
            out.append(pod)
    return out


def pod_problem(
    pods: Iterable[Mapping[str, Any]], *, previous_reason: str | None = None
) -> PodProblem | None:
    """The worst problem among ``pods`` (None: nothing wrong that the pods can tell).

    ``previous_reason`` is the Ready reason the HardenedService reports now: a hard image-pull
    or crash-loop problem stays hard while the kubelet is between two retries (see above).
    Pods being deleted or finished (an old ReplicaSet's, an evicted one) are not looked at.
    Ties go to the pod that sorts first by name, so the answer does not depend on list order.
    """
    found: list[tuple[int, str, PodProblem]] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        status = pod.get("status") or {}
        if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        name = str(meta.get("name") or "")
        for problem in _problems(name, status, previous_reason):
            found.append((SEVERITY.index(problem.reason), name, problem))
    if not found:
        return None
    found.sort(key=lambda item: (item[0], item[1]))
    worst = found[0][2]
    others = {pod for rank, pod, _ in found if rank == found[0][0]} - {found[0][1]}
    if others:
        more = len(others)
        worst = PodProblem(
            worst.reason, f"{worst.message} (and {more} more pod{'s' if more > 1 else ''})"
        )
    return worst


def _problems(pod: str, status: Mapping[str, Any], previous: str | None) -> list[PodProblem]:
    out = []
    for cond in status.get("conditions") or []:
        if (
            cond.get("type") == "PodScheduled"
            and cond.get("status") == "False"
            and cond.get("reason") == UNSCHEDULABLE
        ):
            text = str(cond.get("message") or "no node fits the pod").strip()
            out.append(PodProblem(UNSCHEDULABLE, f"pod {pod} cannot be scheduled: {text}"))
    statuses = [("init container", c) for c in status.get("initContainerStatuses") or []] + [
        ("container", c) for c in status.get("containerStatuses") or []
    ]
    for what, container in statuses:
        problem = _container_problem(pod, what, container, previous)
        if problem is not None:
            out.append(problem)
    return out


def _container_problem(
    pod: str, what: str, container: Mapping[str, Any], previous: str | None
) -> PodProblem | None:
    if container.get("ready"):
        return None
    where = f'{what} "{container.get("name")}" of pod {pod}'
    state = container.get("state") or {}
    restarts = int(container.get("restartCount") or 0)
    last = _last_exit(container)
    waiting = state.get("waiting")
    if waiting is not None:
        reason = str(waiting.get("reason") or "")
        said = str(waiting.get("message") or "").strip()
        text = f"{where}: {reason}" + (f": {said}" if said else "")
        if reason == ERR_IMAGE_PULL and previous == IMAGE_PULL_BACK_OFF:
            return PodProblem(IMAGE_PULL_BACK_OFF, text)  # between two failed retries
        if reason == CRASH_LOOP_BACK_OFF:
            return PodProblem(CRASH_LOOP_BACK_OFF, f"{text}; last exit: {last}" if last else text)
        if reason in SEVERITY:
            return PodProblem(reason, text)
        return None  # ContainerCreating, PodInitializing: on its way
    crashed = bool(last) and restarts > 0
    if state.get("terminated") is not None:
        exit_ = _exit_text(state["terminated"])
        if what == "init container" and state["terminated"].get("exitCode") == 0:
            return None
        if crashed or previous == CRASH_LOOP_BACK_OFF:
            return PodProblem(
                CRASH_LOOP_BACK_OFF, f"{where} exited ({exit_}) after {restarts} restarts"
            )
        return PodProblem(WAITING_FOR_REPLICAS, f"{where} exited ({exit_})")
    if state.get("running") is not None:
        if crashed and previous == CRASH_LOOP_BACK_OFF:
            # Restarted by the kubelet and not ready since: the same crash loop.
            return PodProblem(
                CRASH_LOOP_BACK_OFF,
                f"{where} restarted {restarts} times and is not ready; last exit: {last}",
            )
        if what == "init container":
            return None  # running an init container is progress
        probe = "readiness probe" if container.get("started", True) else "startup probe"
        return PodProblem(
            WAITING_FOR_REPLICAS, f"{where} is running but not ready ({probe} not passing)"
        )
    return None


def _last_exit(container: Mapping[str, Any]) -> str:
    terminated = (container.get("lastState") or {}).get("terminated")
    return _exit_text(terminated) if terminated else ""


def _exit_text(terminated: Mapping[str, Any]) -> str:
    text = f"{terminated.get('reason') or 'exited'}, exit code {terminated.get('exitCode')}"
    said = str(terminated.get("message") or "").strip()
    return f"{text}: {said[:200]}" if said else text
