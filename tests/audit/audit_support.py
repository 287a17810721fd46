"""Helpers for the audit tests: run the CLI in-process and write manifest files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from hardened_operator.cli import main

RunAudit = Callable[..., Result]
ROOT = Path(__file__).resolve().parents[2]
HARDENED = ROOT / ".venv" / "bin" / "hardened"


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["audit", *args], input=input, catch_exceptions=False)


def write_yaml(path: Path, *docs: Any) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def parse_json(result: Result) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data
