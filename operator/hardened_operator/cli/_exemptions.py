"""The exemption flags shared by ``hardened webhook`` and ``hardened run``.

One definition, so the two commands can never again disagree on what ``--exempt-namespace``
means: it ADDS to the defaults (``kube-system`` and the operator's own namespace -- a broken
webhook must never block its own recovery). ``--no-default-exemptions`` says "exactly these",
for a deployment whose ValidatingWebhookConfiguration lists its exclusions explicitly (the Helm
chart passes the same list to both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def exemption_options(func: F) -> F:
    """``--exempt-namespace NAME`` (repeatable) and ``--no-default-exemptions``."""
    func = click.option(
        "--no-default-exemptions",
        is_flag=True,
        help="Exempt exactly the --exempt-namespace names: drop the defaults (kube-system "
        "and the operator namespace).",
    )(func)
    func = click.option(
        "--exempt-namespace",
        "exempt_namespaces",
        multiple=True,
        metavar="NAME",
        help="Namespace admission never reviews (exact name; repeatable). Adds to the "
        "defaults: kube-system and the operator namespace.",
    )(func)
    return func


def exempt_namespaces(
    operator_namespace: str, extra: tuple[str, ...], no_defaults: bool
) -> frozenset[str]:
    """The namespaces to exempt, as both commands compute them."""
    from hardened_operator.webhook.config import default_exempt_namespaces

    defaults = frozenset() if no_defaults else default_exempt_namespaces(operator_namespace)
    return defaults | frozenset(extra)
