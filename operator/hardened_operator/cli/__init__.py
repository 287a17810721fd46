"""The ``hardened`` command.

Each subcommand lives in its own module here and is imported only when invoked, so that
``hardened audit`` never pays for importing the kubernetes client or kopf.

Commands raise ``HardenedError``s and do not pick exit codes for them: ``LazyGroup.invoke``
prints ``error: <message>`` on stderr and exits with ``_exit.exit_code(error)`` (2 for unusable
input, 1 otherwise; see ``hardened_operator.errors``).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from hardened_operator.cli._exit import exit_code
from hardened_operator.errors import HardenedError

# name -> (module under hardened_operator.cli, attribute, one-line help)
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "audit": ("audit", "audit", "Check manifests against the non-root policy (CI and reviews)."),
    "webhook": ("webhook", "webhook", "Serve the validating admission webhook."),
    "crd": ("crd", "crd", "Print the HardenedService CRD generated from the typed model."),
    "policies": (
        "policies",
        "policies",
        "Print the in-process ValidatingAdmissionPolicy generated from the policy.",
    ),
    "render": (
        "render",
        "render",
        "Print the objects a HardenedService becomes, no cluster needed.",
    ),
    "run": ("run", "run", "Run the operator (reconciler + admission webhook)."),
    "dev": ("dev", "dev", "A local control plane: etcd + kube-apiserver + the operator."),
    "convert": ("convert", "convert", "Convert docker-compose services to HardenedServices."),
    "dockerfile": ("dockerfile", "dockerfile", "Lint and fix Dockerfiles for non-root."),
    "verify": (
        "verify",
        "verify",
        "Prove root pods are refused here: dry-run a root pod and a compliant one.",
    ),
    "version": ("version", "version", "Print the installed version."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, _ = entry
        module = importlib.import_module(f"{__name__}.{module_name}")
        command: Any = getattr(module, attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - programming error
            raise TypeError(f"{module_name}.{attribute} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a ``HardenedError`` it raises becomes one line and an exit code."""
        try:
            return super().invoke(ctx)
        except HardenedError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(exit_code(error))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Listing help must not import every subcommand: use the table's one-liners.
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="hardened-operator", message="%(package)s %(version)s")
def main() -> None:
    """hardened-operator: non-root is the only way to run.

    \b
    Shell completion (bash; zsh and fish likewise):
      eval "$(_HARDENED_COMPLETE=bash_source hardened)"
    """
