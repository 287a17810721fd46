"""``hardened policies``: print (or check) the in-process ValidatingAdmissionPolicy.

The policy and its bindings are generated from the policy engine's CEL rules
(``hardened_operator.inprocess``); the committed copies under ``admission/`` and the chart's
``files/admission-policies.json`` are checked current with ``--check``.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from hardened_operator.cli._exemptions import exempt_namespaces as exempt_namespaces_for
from hardened_operator.cli._exemptions import exemption_options
from hardened_operator.cli._exit import EXIT_FAILED
from hardened_operator.cli._io import read_input, write_output
from hardened_operator.conventions import ENFORCE_LABEL, OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES


def _check(path: Path, text: str, regenerate: str) -> None:
    current = read_input(str(path), encoding="utf-8")
    if current == text:
        click.echo(f"{path} is up to date", err=True)
        return
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=str(path),
        tofile="generated",
    )
    sys.stderr.writelines(diff)
    click.echo(f"error: {path} is stale; regenerate with: {regenerate}", err=True)
    sys.exit(EXIT_FAILED)


@click.command()
@click.option(
    "--profile",
    type=click.Choice(PROFILES),
    default=DEFAULT_PROFILE,
    show_default=True,
    help="Policy profile (in-process: nonroot, nonroot:allow-root-group; the others have "
    "checks without a CEL rule and stay the webhook's).",
)
@click.option(
    "--mode-label",
    default=ENFORCE_LABEL,
    show_default=True,
    help="The namespace label whose value picks the mode (the chart's webhook.modeLabel).",
)
@click.option(
    "--name",
    default="hardened-operator",
    show_default=True,
    help="Name of the policy; its bindings are NAME-enforce, NAME-warn, NAME-audit.",
)
@exemption_options
@click.option(
    "--exempt-username",
    "exempt_usernames",
    multiple=True,
    metavar="NAME",
    help="User (request.userInfo.username, exact) whose requests are not evaluated; repeatable.",
)
@click.option(
    "--operator-namespace",
    default=OPERATOR_NAMESPACE_DEFAULT,
    show_default=True,
    help="The operator's namespace, exempt by default.",
)
@click.option(
    "--chart",
    is_flag=True,
    help="Print every in-process profile's policy spec as JSON (the Helm chart's "
    "files/admission-policies.json) instead of a profile's objects.",
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Compare FILE with the generated output; exit 1 with a diff when they differ.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
def policies(
    profile: str,
    mode_label: str,
    name: str,
    exempt_namespaces: tuple[str, ...],
    no_default_exemptions: bool,
    exempt_usernames: tuple[str, ...],
    operator_namespace: str,
    chart: bool,
    check_file: Path | None,
    output: Path | None,
) -> None:
    """Print the ValidatingAdmissionPolicy and bindings that enforce a profile in-process.

    The API server evaluates them itself (CEL): no webhook call per pod. The namespace label
    ai-system.io/enforce picks the mode as for the webhook (absent: enforce). See
    docs/admission-policy.md.

    \b
    Install:                  hardened policies | kubectl apply -f -
    Regenerate the copy:      hardened policies -o admission/nonroot.yaml
    Check it is current (CI): hardened policies --check admission/nonroot.yaml
    """
    from hardened_operator.inprocess import HEADER, chart_json, policy_yaml
    from hardened_operator.webhook.config import WebhookConfig

    if chart:
        text = chart_json()
        command = "hardened policies --chart -o"
    else:
        # The webhook's own validation of exemptions: exact DNS-1123 names, no patterns.
        config = WebhookConfig(
            profile=profile,  # type: ignore[arg-type]  # click.Choice guarantees a Profile
            exempt_namespaces=exempt_namespaces_for(
                operator_namespace, exempt_namespaces, no_default_exemptions
            ),
            exempt_usernames=frozenset(exempt_usernames),
        )
        text = policy_yaml(
            config.profile,
            name=name,
            exempt_namespaces=config.exempt_namespaces,
            exempt_usernames=config.exempt_usernames,
            mode_label=mode_label,
        )
        if check_file or output:  # a file: say what made it (the path as committed)
            committed = f"admission/{profile.replace(':', '-')}.yaml"
            text = HEADER.format(profile=profile, path=committed) + text
        command = f"hardened policies --profile {profile} -o"
    if check_file is not None:
        _check(check_file, text, f"{command} {check_file}")
        return
    write_output(text, output)
