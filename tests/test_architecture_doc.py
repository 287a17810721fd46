"""docs/architecture.md, the page a newcomer reads first, says what the code does: its layer
diagram is the import-linter contract, its pure layers are the contract's, and every file it
names as the owner of a fact exists."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "architecture.md").read_text()
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"
]
PACKAGE = "hardened_operator."


def _short(module: str) -> str:
    return module.strip().removeprefix(PACKAGE)


def test_the_layer_diagram_is_the_import_contract() -> None:
    (contract,) = [c for c in CONTRACTS if c["type"] == "layers"]
    expected = [{_short(m) for m in layer.split("|")} for layer in contract["layers"]]
    (diagram,) = re.findall(r"## Layers.*?```\n(.*?)```", DOC, flags=re.S)
    drawn = [{name.strip() for name in layer.split("|")} for layer in diagram.split(">")]
    assert drawn == expected


def test_the_pure_layers_named_are_the_contracts() -> None:
    (contract,) = [c for c in CONTRACTS if c["type"] == "forbidden"]
    (sentence,) = re.findall(r"and the pure layers \((.*?)\) may not", DOC, flags=re.S)
    named = set(re.findall(r"`(\w+)`", sentence))
    assert named == {_short(m) for m in contract["source_modules"]}
    assert set(contract["forbidden_modules"]) == {"kubernetes", "kopf", "aiohttp"}


def test_every_owner_file_of_the_fact_table_exists() -> None:
    table = DOC.split("## Who owns which fact", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    owners = [row.split(" | ")[1] for row in rows[1:]]  # the header row names the columns
    package = REPO / "operator" / "hardened_operator"
    checked, missing = 0, []
    for cell in owners:
        names = re.findall(r"`([\w./-]+(?:\.py|\.yaml|\.json|/))`", cell)
        # Paths are relative to the repository or the package, and a name may follow the
        # folder the same cell names, e.g. "`reports/` (`findings.py`)".
        bases = [REPO, package]
        bases += [base / name for name in names if name.endswith("/") for base in (REPO, package)]
        for name in names:
            checked += 1
            if not any((base / name).exists() for base in bases):
                missing.append(name)
    assert checked >= 10
    assert missing == []
