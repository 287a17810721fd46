"""Differential test of ``nonroot:allow-root-group``: its in-process policy against the webhook
with the same profile, through a real kube-apiserver (as ``test_policy_cel_differential`` does
for ``nonroot``).

The two nonroot profiles differ by one check, ``rootGroups`` (GID 0 in ``runAsGroup`` at pod
or container level, in ``supplementalGroups``, in ``fsGroup``). So every case that sets one of
those fields to 0 is sent, as a Pod and as the pod template of every other in-process kind:
the corpus's own (the check table's and the profile table's rows, the fixtures), and seeded
mixes here of root-group edits with the check table's rows. Those are the cases whose verdict
could differ between the profiles; many must be admitted here while ``nonroot`` denies them.
The rest of the corpus goes in as a seeded sample: the generated policies are otherwise the
same validations (checked below without a cluster), which the ``nonroot`` run proves whole.

Needs the shared ``control_plane`` fixture (skips without one, fails in CI).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hardened_operator.inprocess import policy_documents
from hardened_operator.policy import Profile, evaluate
from tests.policy.cel_plane import SIDES, Answer, TwoEnforcers, create_path, two_enforcers
from tests.policy.policy_pods import spec_with
from tests.policy.policy_summary import CONFORMANCE_COUNTS
from tests.policy.test_policy_cel_differential import KINDS, _fixture_pods, wrap
from tests.policy.test_policy_checks import ROWS
from tests.policy.test_policy_psa_differential import _INVALID_IN_MIXES, _base, corpus

PROFILE: Profile = "nonroot:allow-root-group"
SEED = 20261206
SAMPLE_OF_THE_REST = 100
ROOT_GROUP_MIXES = 60
SC = "securityContext"
# Where GID 0 can be asked for: pod and container level (ephemeral containers cannot be set on
# create; the nonroot run covers them through the subresource).
ROOT_GROUP_EDITS: list[tuple[str, list[tuple[str, Any]]]] = [
    ("pod-gid-0", [(f"{SC}.runAsGroup", 0)]),
    ("app-gid-0", [(f"containers[0].{SC}.runAsGroup", 0)]),
    ("init-gid-0", [(f"initContainers[0].{SC}.runAsGroup", 0)]),
    ("supplemental-0", [(f"{SC}.supplementalGroups", [0])]),
    ("supplemental-0-among", [(f"{SC}.supplementalGroups", [1000, 0, 5])]),
    ("fsgroup-0", [(f"{SC}.fsGroup", 0)]),
    (
        "pod-gid-0-containers-1000",
        [
            (f"{SC}.runAsGroup", 0),
            (f"containers[0].{SC}.runAsGroup", 1000),
            (f"initContainers[0].{SC}.runAsGroup", 1000),
        ],
    ),
    (
        "second-container-gid-0",
        [
            (
                "containers[1]",
                {
                    "name": "sidecar",
                    "image": "registry.example/sidecar:1.0",
                    SC: {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsGroup": 0,
                    },
                },
            )
        ],
    ),
]
# The least each kind must bring (compared; root-group cases; of those, admitted here though
# nonroot denies them), or the comparison proves little.
MINIMUM_COMPARED, MINIMUM_ROOT_GROUP, MINIMUM_RELAXED = 150, 60, 20

Case = tuple[str, dict[str, Any], dict[str, Any]]


def sets_root_group(spec: dict[str, Any]) -> bool:
    """Whether the pod spec asks for GID 0 anywhere ``rootGroups`` looks (read here, not by
    the check, so a mistake in the check cannot shrink the selection)."""
    pod = spec.get("securityContext") or {}
    containers = [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
        if isinstance(c, dict)
    ]
    groups = pod.get("supplementalGroups")
    return (
        pod.get("runAsGroup") == 0
        or pod.get("fsGroup") == 0
        or (isinstance(groups, list) and 0 in groups)
        or any((c.get("securityContext") or {}).get("runAsGroup") == 0 for c in containers)
    )


def nonroot_denies_only_for_root_group(meta: dict[str, Any], spec: dict[str, Any]) -> bool:
    """The webhook's ``nonroot`` would deny it for ``rootGroups`` alone."""
    failing = {r.check for r in evaluate(meta, spec, "nonroot") if not r.allowed}
    return failing == {"rootGroups"}


def root_group_mixes() -> list[Case]:
    """Seeded mixes: one or two root-group edits with up to two of the check table's rows
    (those that stay valid combined), so GID 0 meets every other check."""
    mixable = [
        (name, edits)
        for name, edits, _, _ in ROWS
        if not name.startswith(_INVALID_IN_MIXES)
        and not any(path.startswith("ephemeralContainers") for path, _ in edits)
    ]
    rng = random.Random(SEED)
    cases: list[Case] = []
    for number in range(ROOT_GROUP_MIXES):
        groups = rng.sample(ROOT_GROUP_EDITS, rng.randint(1, 2))
        rows = rng.sample(mixable, rng.randint(0, 2))
        edits = [edit for _, row_edits in groups + rows for edit in row_edits]
        name = "rg-mix-" + "+".join(row_name for row_name, _ in groups + rows)
        cases.append((f"{name}#{number}", {}, spec_with(*edits, base=_base())))
    return cases


def cases() -> tuple[list[Case], list[Case]]:
    """(every root-group case, a seeded sample of the rest)."""
    everything = corpus() + _fixture_pods()
    own: list[Case] = [
        (f"rg/{name}", {}, spec_with(*edits, base=_base())) for name, edits in ROOT_GROUP_EDITS
    ]
    root_group = [c for c in everything if sets_root_group(c[2])] + own + root_group_mixes()
    rest = [c for c in everything if not sets_root_group(c[2])]
    return root_group, random.Random(SEED).sample(rest, SAMPLE_OF_THE_REST)


def test_the_profiles_policies_differ_by_the_root_group_validation_alone() -> None:
    """What lets the rest be sampled: apart from the profile's name in the messages, the
    allow-root-group policy is nonroot's without its rootGroups validation."""
    nonroot = policy_documents("nonroot")[0]["spec"]
    relaxed = policy_documents(PROFILE)[0]["spec"]
    # The name sits in the message as written, and escaped inside the CEL's string literals.
    names = [('"nonroot"', f'"{PROFILE}"'), ('\\"nonroot\\"', f'\\"{PROFILE}\\"')]

    def renamed(validation: dict[str, Any]) -> dict[str, Any]:
        result = dict(validation)
        for key in ("message", "messageExpression"):
            for old, new in names:
                result[key] = result[key].replace(f"policy {old}: ", f"policy {new}: ")
        return result

    kept = [renamed(v) for v in nonroot["validations"] if "check rootGroups" not in v["message"]]
    assert len(kept) == len(nonroot["validations"]) - 1
    assert relaxed["validations"] == kept
    assert {k: v for k, v in relaxed.items() if k != "validations"} == {
        k: v for k, v in nonroot.items() if k != "validations"
    }


def test_root_group_cases_are_all_there() -> None:
    """Every corpus case the ``nonroot`` engine denies for rootGroups alone is selected, and
    none of the sample sets GID 0."""
    root_group, rest = cases()
    selected = {label for label, _, _ in root_group}
    everything = corpus() + _fixture_pods()
    relaxed = [
        label for label, meta, spec in everything if nonroot_denies_only_for_root_group(meta, spec)
    ]
    assert relaxed and set(relaxed) <= selected
    assert not any(sets_root_group(spec) for _, _, spec in rest)


@pytest.fixture(scope="module")
def enforcers(
    control_plane: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoEnforcers]:
    api = control_plane.api_client()
    api.configuration.connection_pool_maxsize = 8
    try:
        with two_enforcers(api, tmp_path_factory.mktemp("cel-arg"), PROFILE) as setup:
            yield setup
    finally:
        api.close()


@pytest.mark.controlplane
def test_root_group_cases_and_a_sample_get_the_webhooks_verdict(enforcers: TwoEnforcers) -> None:
    root_group, rest = cases()
    jobs = [
        (label, kind, index, meta, spec, index < len(root_group))
        for index, (label, meta, spec) in enumerate(root_group + rest)
        for kind in KINDS
    ]

    def judge(job: tuple[str, str, int, dict[str, Any], dict[str, Any], bool]) -> tuple[Any, ...]:
        label, kind, index, meta, spec, is_root_group = job
        name = f"g{index}-{kind.lower()}"
        answers: dict[str, Answer] = {}
        for side in SIDES:
            obj = wrap(kind, name, enforcers.ns(side), meta, copy.deepcopy(spec))
            answers[side] = enforcers.request("POST", create_path(obj), obj)
        relaxed = is_root_group and nonroot_denies_only_for_root_group(meta, spec)
        return label, kind, is_root_group, relaxed, answers["policy"], answers["webhook"]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(judge, jobs))

    mismatches: list[str] = []
    misnamed: list[str] = []
    # per kind: compared, denied, root-group cases compared, of those admitted though
    # nonroot denies them, refused by API validation on both sides
    per_kind = {kind: [0, 0, 0, 0, 0] for kind in KINDS}
    for label, kind, is_root_group, relaxed, policy, webhook in results:
        counts = per_kind[kind]
        if policy.status == 422 and webhook.status == 422:
            counts[4] += 1
            continue
        assert policy.status in (201, 403, 422) and webhook.status in (201, 403, 422), (
            label,
            kind,
            policy,
            webhook,
        )
        counts[0] += 1
        counts[1] += not webhook.allowed
        counts[2] += is_root_group
        counts[3] += relaxed and policy.allowed and webhook.allowed
        if policy.allowed != webhook.allowed:
            mismatches.append(
                f"{kind} {label}: policy {policy.status} {policy.message[:300]!r}, "
                f"webhook {webhook.status} {webhook.message[:300]!r}"
            )
        elif not policy.allowed:
            # A denial names this profile, and never the check it turns off.
            named = f'hardened-operator policy "{PROFILE}": {kind}' in policy.message
            if not named or "GID 0" in policy.message:
                misnamed.append(f"{kind} {label}: {policy.message[:300]!r}")

    compared = sum(counts[0] for counts in per_kind.values())
    for kind, (kind_compared, denied, rg, relaxed_admitted, invalid) in per_kind.items():
        CONFORMANCE_COUNTS.append(
            (
                f"{PROFILE} in-process policy vs webhook, {kind}",
                kind_compared - sum(1 for m in mismatches if m.startswith(kind + " ")),
                kind_compared,
                f"identical verdict ({rg} set GID 0, {relaxed_admitted} of them admitted that "
                f"nonroot denies; {denied} denied; {invalid} refused by API validation in both)",
            )
        )
    assert not mismatches, (
        f"{len(mismatches)} of {compared} comparisons differ "
        f"({len(root_group)} root-group cases and {len(rest)} others, each as {len(KINDS)} "
        "kinds):\n" + "\n".join(mismatches[:20])
    )
    for kind, (kind_compared, _, rg, relaxed_admitted, _) in per_kind.items():
        assert kind_compared >= MINIMUM_COMPARED and rg >= MINIMUM_ROOT_GROUP, (kind, per_kind)
        assert relaxed_admitted >= MINIMUM_RELAXED, (kind, per_kind)
    assert not misnamed, f"{len(misnamed)} denials:\n" + "\n".join(misnamed[:20])
