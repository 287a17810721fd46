"""The exemption flags shared by ``hardened webhook``, ``hardened run``, ``hardened policies``
and ``hardened audit --cluster``.

One definition, so the commands can never again disagree on what ``--exempt-namespace``
means: it ADDS to the defaults (``kube-system`` and the operator's own namespace -- a broken
webhook must never block its own recovery). ``--no-default-exemptions`` says "exactly these",
for a deployment whose ValidatingWebhookConfiguration lists its exclusions explicitly (the Helm
chart passes the same list to both). And one construction of the checked settings
(:func:`webhook_config`), so each command refuses the same bad exemptions the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from hardened_operator.webhook.config import WebhookConfig

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


def exempt_username_option(func: F) -> F:
    """``--exempt-username NAME`` (repeatable)."""
    option = click.option(
        "--exempt-username",
        "exempt_usernames",
        multiple=True,
        metavar="NAME",
        help="User (request.userInfo.username, exact) whose requests admission admits "
        "unchecked; repeatable.",
    )
    return option(func)


def exempt_namespaces(
    operator_namespace: str, extra: tuple[str, ...], no_defaults: bool
) -> frozenset[str]:
    """The namespaces to exempt, as every command computes them."""
    from hardened_operator.webhook.config import default_exempt_namespaces

    defaults = frozenset() if no_defaults else default_exempt_namespaces(operator_namespace)
    return defaults | frozenset(extra)


def webhook_config(
    *,
    profile: str,
    operator_namespace: str,
    namespaces: tuple[str, ...],
    no_defaults: bool,
    usernames: tuple[str, ...] = (),
    max_body_bytes: int | None = None,
) -> WebhookConfig:
    """The flags as the webhook's checked settings (``PolicyError``, exit 2, for a namespace
    that is not an exact DNS-1123 name, a blank username or an unknown profile). Called before
    a command does anything else, so a bad exemption is refused at once."""
    from hardened_operator.webhook.config import DEFAULT_MAX_BODY_BYTES, WebhookConfig

    return WebhookConfig(
        profile=profile,  # type: ignore[arg-type]  # checked by WebhookConfig itself
        exempt_namespaces=exempt_namespaces(operator_namespace, namespaces, no_defaults),
        exempt_usernames=frozenset(usernames),
        max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES,
    )
