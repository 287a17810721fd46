"""docs/hardenedservice.md stays true: every field documented, every example listed, the
documented error line is the real one."""

from __future__ import annotations

import re

from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.model import crd_manifest
from tests.model.model_support import EXAMPLES, REPO

DOC = REPO / "docs" / "hardenedservice.md"
SPEC = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def _documented_paths() -> list[str]:
    """Top-level fields, plus the fields of the small objects the reference table spells out."""
    props = SPEC["properties"]
    # Objects documented through their fields (securityContext.runAsUser, ...), not by name.
    paths = [p for p in props if p not in ("securityContext", "gpu", "probes", "volumes")]
    paths = [p for p in paths if p not in ("autoscaling", "disruptionBudget", "rollingUpdate")]
    for parent in (
        "securityContext",
        "gpu",
        "probes",
        "autoscaling",
        "disruptionBudget",
        "rollingUpdate",
    ):
        paths += [f"{parent}.{child}" for child in props[parent]["properties"]]
    paths += [f"ports[].{child}" for child in props["ports"]["items"]["properties"]]
    paths += [f"volumes.{child}" for child in props["volumes"]["properties"]]
    paths += [f"volumes.<v>.{c}" for c in props["volumes"]["properties"]["data"]["properties"]]
    return paths


def test_every_spec_field_is_in_the_reference() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [p for p in _documented_paths() if f"`{p}`" not in text and f"`{p}` (" not in text]
    assert missing == []


def test_every_example_is_listed_and_every_listed_example_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    listed = set(re.findall(r"\(examples/hardenedservice/([\w.-]+\.yaml)\)", text))
    assert listed == {p.name for p in EXAMPLES.glob("*.yaml")}


def test_documented_error_line_is_the_real_output() -> None:
    path = "docs/examples/hardenedservice/invalid-root.yaml"
    result = CliRunner().invoke(main, ["render", str(REPO / path)])
    assert result.exit_code == 2
    real = result.stderr.strip().replace(str(REPO / path), path)
    assert real in DOC.read_text(encoding="utf-8")


def _refusal_rows() -> list[tuple[str, str]]:
    """(spec snippet, first quoted message) of each row of the "Refused with" table whose
    spec cell is YAML."""
    text = DOC.read_text(encoding="utf-8")
    table = text.split("| Spec | Refused with |", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        spec = re.fullmatch(r"`([^`]+)`", cells[0])
        message = re.search(r"`([^`]+)`", cells[1])
        if spec and message:
            rows.append((spec.group(1), message.group(1)))
    return rows


def test_the_refusal_table_quotes_real_messages() -> None:
    import yaml

    from hardened_operator.errors import SpecValidationError
    from hardened_operator.model.validation import parse

    rows = _refusal_rows()
    assert len(rows) >= 10
    for snippet, quoted in rows:
        spec = yaml.safe_load("{" + snippet + "}")
        obj = {
            "apiVersion": "ai-system.io/v1alpha1",
            "kind": "HardenedService",
            "metadata": {"name": "doc"},
            "spec": {"image": "busybox:1.36", **spec},
        }
        try:
            parse(obj)
        except SpecValidationError as error:
            message = str(error)
        else:
            raise AssertionError(f"documented as refused, but accepted: {snippet}")
        expected = quoted.split("...")[0].rstrip(", ")
        assert expected in message, (snippet, message)


def test_documented_object_count_of_two_services() -> None:
    text = DOC.read_text(encoding="utf-8")
    command = "render - < docs/examples/hardenedservice/two-services.yaml | grep -c '^kind:'\n"
    documented = int(text.split(command, 1)[1].split("\n", 1)[0])
    stdin = (EXAMPLES / "two-services.yaml").read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["render", "-"], input=stdin)
    assert result.exit_code == 0
    assert sum(line.startswith("kind:") for line in result.stdout.splitlines()) == documented
