"""``hardened audit --cluster``: read the cluster (``k8s.inventory``), judge it (``audit.cluster``).

Here, in the CLI layer, because it joins three layers that do not know each other: the
inventory (``k8s``: the only one that talks to the API), the pure audit, and the mode routing
of the webhook registration (``dev.manifests.mode_label_conditions``, the one statement of which
label value picks which mode). Imported only when ``--cluster`` is given, so the offline audit
never loads the kubernetes client.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

from hardened_operator.audit.cluster import ClusterAudit, NamespaceSummary
from hardened_operator.conventions import ENFORCE_LABEL
from hardened_operator.dev.manifests import mode_label_conditions
from hardened_operator.k8s import inventory
from hardened_operator.policy.types import Profile


@dataclass(frozen=True)
class ClusterResult:
    """What one cluster audit found: the report builder, the namespace rows, and the server."""

    audit: ClusterAudit
    namespaces: list[NamespaceSummary]
    server: str


def run_cluster_audit(
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    profile: Profile,
    exempt: frozenset[str],
    mode_label: str = ENFORCE_LABEL,
) -> ClusterResult:
    """Read and judge every pod-bearing object in scope.

    Raises ``InputError`` (unusable kubeconfig, a namespace that does not exist) and
    ``inventory.ClusterUnreachable``/``ClusterUnauthorized``; every other failure to read is
    an ``unread-objects`` entry in the report (partial, exit 2). ``mode_label``: the label the
    registration routes by (the chart's ``webhook.modeLabel``).
    """
    # The registration's conditions, with the label key the deployment uses.
    conditions = {mode: {**condition, "key": mode_label}
                  for mode, condition in mode_label_conditions().items()}  # fmt: skip
    cluster = inventory.connect(kubeconfig, context)
    try:
        wanted = None if all_namespaces else (namespace or cluster.context_namespace)
        scope = inventory.read_namespaces(cluster.api, wanted)
        audit = ClusterAudit(profile)
        audit.report.origin = f"cluster {cluster.server}"
        if scope.unread is not None:
            unread = scope.unread
            audit.add_unread(unread.path, unread.resource, unread.kind, unread.namespace,
                             unread.message)  # fmt: skip
        for item in inventory.read_pod_bearing(cluster.api, scope):
            if isinstance(item, inventory.Listed):
                audit.add_object(item.path, item.obj)
            elif isinstance(item, inventory.Unread):
                audit.add_unread(item.path, item.resource, item.kind, item.namespace,
                                 item.message)  # fmt: skip
            else:
                audit.not_served.append(item.message)
                click.echo(f"note: {item.message}: there are none to audit", err=True)
        rows = audit.summaries(
            scope.labels,
            conditions,
            exempt,
            mode_label,
            namespaces=() if wanted is None else (wanted,),
        )
        return ClusterResult(audit, rows, cluster.server)
    finally:
        cluster.api.close()
