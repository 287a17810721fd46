"""``hardened audit``: check manifests against the policy; ``--fix`` rewrites them minimally;
``--cluster`` reads the pod-bearing objects of a cluster instead of files.

Imports only click, PyYAML and the pure layers (ruamel.yaml with ``--fix``, the kubernetes
client with ``--cluster``, in ``_audit_cluster``): no kopf, so that a CI step starts in a
fraction of a second.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from hardened_operator.audit.formats import FORMATS, render_json, render_sarif, render_table
from hardened_operator.audit.report import EXIT_UNREADABLE, Report, audit_sources
from hardened_operator.audit.sources import Source, iter_sources, write_back
from hardened_operator.cli import _exemptions
from hardened_operator.cli._io import output_option, terminal_width, use_colour, write_output
from hardened_operator.conventions import ENFORCE_LABEL, OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.errors import ApiError, ManifestParseError
from hardened_operator.policy import CHECKS, check_ids
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES, Profile


def _rules(profile: Profile) -> dict[str, str]:
    return {check_id: CHECKS[check_id].summary for check_id in check_ids(profile)}


def _render(
    report: Report,
    output_format: str,
    profile: Profile,
    stream: TextIO | None = None,
    properties: dict[str, Any] | None = None,
) -> str:
    """``stream`` is the terminal the table goes to (None: a file): fit and colour it.
    ``properties``: SARIF's run properties (a cluster audit's namespaces)."""
    if output_format == "json":
        return render_json(report)
    if output_format == "sarif":
        return render_sarif(report, _rules(profile), properties)
    if stream is None:
        return render_table(report)
    return render_table(report, width=terminal_width(stream), colour=use_colour(stream))


def _notes(report: Report) -> None:
    for note in report.notes:
        where = f"{note.file}:{note.line}" if note.line is not None else note.file
        click.echo(f"note: {where}: {note.message}", err=True)


def _fix(
    paths: Sequence[str],
    profile: Profile,
    output_format: str,
    in_place: bool,
    stdin: TextIO,
    output: Path | None,
) -> int:
    """Fix every source, print (or write) the results, then audit what was produced."""
    from hardened_operator.audit.rewrite import fix_source  # only --fix pays for it

    fixed_sources: list[Source | ManifestParseError] = []
    outputs: list[tuple[Source, str]] = []
    for source in iter_sources(paths, stdin):
        if isinstance(source, ManifestParseError):
            fixed_sources.append(source)
            continue
        try:
            result = fix_source(source, profile)
        except ManifestParseError as exc:
            fixed_sources.append(exc)
            continue
        fixed = Source(source.name, result.text, source.is_json, source.path)
        fixed_sources.append(fixed)
        outputs.append((fixed, source.text))
        if result.edits:
            verb = "fixed" if in_place else "fixed (printed)"
            click.echo(f"{verb}: {source.name} ({result.edits} edit(s))", err=True)
    parts: list[str] = []
    for index, (fixed, original) in enumerate(outputs):
        if in_place:
            if fixed.path is not None and fixed.text != original:
                write_back(fixed.path, fixed.text)
            continue
        if len(outputs) > 1:
            # Several inputs on stdout: one YAML stream, each part saying where it came from.
            if index:
                parts.append("---\n")
            parts.append(f"# Source: {fixed.name}\n")
        parts.append(fixed.text)
        if fixed.text and not fixed.text.endswith("\n"):
            parts.append("\n")
    if not in_place:
        write_output("".join(parts), output)
    # What the fixed text still violates could not be fixed: report it on stderr.
    report = audit_sources(fixed_sources, profile)
    _notes(report)
    if report.entries:
        click.echo("unfixable (fix these by hand):", err=True)
        click.echo(_render(report, output_format, profile, sys.stderr), err=True, nl=False)
    return report.exit_code


# Options that mean something only with --cluster: given without it, they are usage errors.
_CLUSTER_ONLY = (
    "kubeconfig",
    "context",
    "namespace",
    "all_namespaces",
    "exempt_namespaces",
    "no_default_exemptions",
)
_DEFAULTS = {"mode_label": ENFORCE_LABEL, "operator_namespace": OPERATOR_NAMESPACE_DEFAULT}


@click.command(name="audit")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="nonroot: the run-as-root checks (root group included); nonroot:allow-root-group: "
    "the same but GID 0 allowed; baseline / restricted: all of PSA baseline / restricted.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Report format (with --fix: for what could not be fixed, on stderr).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Print the manifests with the minimal securityContext changes that make them pass.",
)
@click.option("--in-place", is_flag=True, help="With --fix: rewrite the files instead.")
@click.option(
    "--cluster",
    is_flag=True,
    help="Audit the pod-bearing objects of a cluster (as kubectl reaches it) instead of files, "
    "with a per-namespace summary of what admission refuses.",
)
@click.option("--kubeconfig", metavar="FILE", help="With --cluster: the kubeconfig "
              "(default: $KUBECONFIG, else in-cluster, else ~/.kube/config).")  # fmt: skip
@click.option("--context", metavar="NAME", help="With --cluster: the kubeconfig context.")
@click.option("-n", "--namespace", metavar="NS", help="With --cluster: this namespace "
              "(default: the context's namespace, as kubectl).")  # fmt: skip
@click.option("-A", "--all-namespaces", is_flag=True, help="With --cluster: every namespace.")
@click.option("--operator-namespace", default=OPERATOR_NAMESPACE_DEFAULT, show_default=True,
              help="With --cluster: the operator's namespace, exempt by default.")  # fmt: skip
@click.option("--mode-label", default=ENFORCE_LABEL, show_default=True, metavar="KEY",
              help="With --cluster: the namespace label that picks the mode (the chart's "
              "webhook.modeLabel).")  # fmt: skip
@_exemptions.exemption_options
@output_option
def audit(
    paths: tuple[str, ...],
    profile: Profile,
    output_format: str,
    fix: bool,
    in_place: bool,
    cluster: bool,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    operator_namespace: str,
    mode_label: str,
    exempt_namespaces: tuple[str, ...],
    no_default_exemptions: bool,
    output: Path | None,
) -> None:
    """Check Kubernetes manifests (files, directories, - for stdin) for pods that can run as root.

    With --cluster, check the cluster's pod-bearing objects instead (-n NS or -A).
    The report (or, with --fix, the fixed manifests) goes to stdout or -o FILE.
    Exit codes: 0 clean, 1 violations, 2 unreadable or invalid input (for --cluster also:
    unreachable API server, objects that could not be listed).
    """
    stdin = sys.stdin
    if cluster:
        if paths:
            raise click.UsageError("--cluster reads the cluster: give no PATH")
        if fix:
            raise click.UsageError("--fix rewrites files; it cannot be combined with --cluster")
        if namespace is not None and all_namespaces:
            raise click.UsageError("-n/--namespace and -A/--all-namespaces exclude each other")
        # Admission's own checked exemptions: a name it would refuse is refused here too.
        exempt = _exemptions.webhook_config(
            profile=profile,
            operator_namespace=operator_namespace,
            namespaces=exempt_namespaces,
            no_defaults=no_default_exemptions,
        ).exempt_namespaces
        code = _audit_cluster(
            kubeconfig, context, namespace, all_namespaces, profile, exempt, mode_label,
            output_format, output,
        )  # fmt: skip
        sys.exit(code)
    click_context = click.get_current_context()
    given = click_context.params
    misplaced = [name for name in _CLUSTER_ONLY if given.get(name)]
    misplaced += [name for name, default in _DEFAULTS.items() if given.get(name) != default]
    if misplaced:
        spellings = {p.name: max(p.opts, key=len) for p in click_context.command.params}
        option = spellings[misplaced[0]]
        raise click.UsageError(f"{option} needs --cluster")
    if not paths:
        raise click.UsageError("give a PATH (a file, a directory, - for stdin) or --cluster")
    if in_place and not fix:
        raise click.UsageError("--in-place needs --fix")
    if in_place and "-" in paths:
        raise click.UsageError("--in-place cannot rewrite stdin")
    if in_place and output is not None:
        raise click.UsageError("--in-place and --output exclude each other")
    if paths.count("-") > 1:
        raise click.UsageError("stdin (-) can be given only once")
    if fix:
        sys.exit(_fix(paths, profile, output_format, in_place, stdin, output))
    report = audit_sources(iter_sources(paths, stdin), profile)
    _notes(report)
    stream = sys.stdout if output is None or str(output) == "-" else None
    write_output(_render(report, output_format, profile, stream), output)
    if report.errors and output_format != "table":
        # Machine formats go to stdout; still tell the human in the log what broke the run.
        for entry in report.errors:
            where = f"{entry.file}:{entry.line}" if entry.line is not None else entry.file
            click.echo(f"error: {where}: {entry.message}", err=True)
    sys.exit(report.exit_code)


def _audit_cluster(
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    profile: Profile,
    exempt: frozenset[str],
    mode_label: str,
    output_format: str,
    output: Path | None,
) -> int:
    """The report as for files (same formats, same exit codes), then the namespace summary:
    under the table, or on stderr beside JSON/SARIF (SARIF also carries it in its run's
    properties). Unreachable or refused credentials: one error line, exit 2."""
    from hardened_operator.audit.cluster import render_namespace_table
    from hardened_operator.cli._audit_cluster import run_cluster_audit

    try:
        result = run_cluster_audit(
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            all_namespaces=all_namespaces,
            profile=profile,
            exempt=exempt,
            mode_label=mode_label,
        )
    except ApiError as error:  # unreachable, unauthorized: nothing was audited
        click.echo(f"error: {error}; nothing was audited", err=True)
        return EXIT_UNREADABLE
    report = result.audit.report
    namespaces = render_namespace_table(result.namespaces, result.audit.unread_everywhere())
    properties = {
        "cluster": result.server,
        "partial": result.audit.partial,
        "namespaces": [row.to_json() for row in result.namespaces],
    }
    stream = sys.stdout if output is None or str(output) == "-" else None
    text = _render(report, output_format, profile, stream, properties)
    if output_format == "table":
        text += "\n" + namespaces
    write_output(text, output)
    if output_format != "table":
        click.echo(namespaces, err=True, nl=False)
        for entry in report.errors:
            click.echo(f"error: {entry.file}: {entry.message}", err=True)
    if result.audit.partial:
        click.echo("error: the result is PARTIAL: some objects could not be listed (see "
                   "unread-objects above); it is not clean", err=True)  # fmt: skip
    return report.exit_code
