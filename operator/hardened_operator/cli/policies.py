"""``hardened policies``: print (or check) the in-process ValidatingAdmissionPolicy.

The policy and its bindings are generated from the policy engine's CEL rules
(``hardened_operator.inprocess``); the committed copies under ``admission/`` and the chart's
``files/admission-policies.json`` are checked current with ``--check``.
"""

from __future__ import annotations

from pathlib import Path

import click

from hardened_operator.cli._exemptions import (
    exempt_username_option,
    exemption_options,
    webhook_config,
)
from hardened_operator.cli._io import check_generated, generated_file_options, write_output
from hardened_operator.conventions import ENFORCE_LABEL, OPERATOR_NAMESPACE_DEFAULT
from hardened_operator.policy.types import DEFAULT_PROFILE, PROFILES


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
@exempt_username_option
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
@generated_file_options
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

    if chart:
        text = chart_json()
        command = "hardened policies --chart"
    else:
        # The webhook's own validation of exemptions: exact DNS-1123 names, no patterns.
        config = webhook_config(
            profile=profile,
            operator_namespace=operator_namespace,
            namespaces=exempt_namespaces,
            no_defaults=no_default_exemptions,
            usernames=exempt_usernames,
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
        command = f"hardened policies --profile {profile}"
    if check_file is not None:
        check_generated(check_file, text, command)
        return
    write_output(text, output)
