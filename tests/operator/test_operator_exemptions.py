"""``hardened run`` and ``hardened webhook`` agree on --exempt-namespace: it adds to the
defaults (kube-system, the operator namespace); --no-default-exemptions means exactly these."""

from __future__ import annotations

from typing import Any

import pytest

from hardened_operator.cli.run import run
from hardened_operator.cli.webhook import webhook

CASES = [
    ((), {"kube-system", "ops"}),
    (("--exempt-namespace", "monitoring"), {"kube-system", "ops", "monitoring"}),
    (("--no-default-exemptions",), set()),
    (("--no-default-exemptions", "--exempt-namespace", "ops"), {"ops"}),
]


def _config(command: Any, args: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the command's body up to the server start and capture the WebhookConfig."""
    seen: list[Any] = []

    def capture(*a: Any, **kw: Any) -> Any:
        config = next(x for x in (*a, *kw.values()) if type(x).__name__ == "WebhookConfig")
        seen.append(config)
        raise SystemExit(0)

    if command is webhook:
        monkeypatch.setattr("hardened_operator.cli.webhook._serve_until_signalled", capture)
        argv = ["--listen", "127.0.0.1:0", "--insecure", "--operator-namespace", "ops"]
    else:
        import hardened_operator.controller.serving as serving

        monkeypatch.setattr(serving, "WebhookSettings", lambda config, **_: capture(config))
        monkeypatch.setattr(
            "hardened_operator.cli.run._self_certificates",
            lambda *a, **_: ("crt", "key", b"ca"),
        )
        argv = ["--operator-namespace", "ops"]
    with pytest.raises(SystemExit):
        command.main([*argv, *args], standalone_mode=False)
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("command", [run, webhook], ids=["run", "webhook"])
@pytest.mark.parametrize(("args", "expected"), CASES)
def test_exempt_namespace_means_the_same_in_both_commands(
    command: Any, args: tuple[str, ...], expected: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(command, args, monkeypatch)
    assert set(config.exempt_namespaces) == expected
