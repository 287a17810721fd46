"""``hardened verify``: does this cluster refuse root pods here? Asked of the API server itself.

Two server-side dry-run creates (``probes``: a root probe and a compliant one) in each namespace
given; nothing is stored or run. Exit 0 only when every namespace refuses the root probe with
hardened-operator's own finding and admits the compliant one; 1 when a root pod would be
admitted somewhere; 2 when the answer cannot show either (refused by something else, the
compliant probe refused too, the API server unreachable, credentials refused). The chart's
``helm test`` runs it.
"""

from __future__ import annotations

import sys

import click

from hardened_operator import probes
from hardened_operator.errors import ApiError


@click.command(name="verify")
@click.option("--kubeconfig", metavar="FILE", help="Kubeconfig (default: $KUBECONFIG, then "
              "the in-cluster account, then ~/.kube/config).")  # fmt: skip
@click.option("--context", metavar="NAME", help="The kubeconfig context.")
@click.option("-n", "--namespace", "namespaces", multiple=True, metavar="NS",
              help="A namespace to probe; repeat for more (default: the context's "
              "namespace, as kubectl).")  # fmt: skip
@click.option("--image", default=probes.DEFAULT_IMAGE, show_default=True,
              help="The probes' image (a dry run never pulls it; an image policy may "
              "still judge the name).")  # fmt: skip
def verify(
    kubeconfig: str | None, context: str | None, namespaces: tuple[str, ...], image: str
) -> None:
    """Prove that root pods are refused: dry-run a root pod and a compliant pod.

    Needs `create` on pods in each namespace (a dry run is authorised like a create).
    Exit codes: 0 enforced everywhere asked, 1 a root pod would be admitted, 2 cannot tell.
    """
    from hardened_operator.k8s import dryrun, inventory

    cluster = inventory.connect(kubeconfig, context)  # InputError: exit 2 via the group
    outcomes: list[probes.Outcome] = []
    try:
        for namespace in namespaces or (cluster.context_namespace,):
            try:
                root = dryrun.create_pod_dry_run(cluster.api, namespace, probes.root_probe(image))
                compliant = dryrun.create_pod_dry_run(
                    cluster.api, namespace, probes.compliant_probe(image)
                )
            except ApiError as error:  # unreachable, unauthorized: nothing can be shown
                click.echo(f"error: {error}; nothing was verified", err=True)
                sys.exit(probes.exit_code("unknown"))
            verdict = probes.judge(namespace, root, compliant)
            click.echo("\n".join(verdict.lines))
            outcomes.append(verdict.outcome)
    finally:
        cluster.api.close()
    sys.exit(probes.exit_code(probes.overall(outcomes)))
