"""``hardened run --reports-api``: only the APIs of reports/apis.py's table, and only with
``--reports`` (alone it would be ignored, and the user would believe reports are written).
Refused before anything contacts a cluster."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hardened_operator.cli import main
from hardened_operator.reports import REPORT_API_NAMES

# No cluster is reachable here: a refusal cannot be an API error in disguise.
NO_CLUSTER = {"KUBECONFIG": "/nonexistent/kubeconfig"}


@pytest.mark.parametrize("name", REPORT_API_NAMES)
def test_reports_api_without_reports_is_refused(name: str) -> None:
    result = CliRunner().invoke(main, ["run", "--reports-api", name], env=NO_CLUSTER)
    assert result.exit_code == 2, result.output
    assert "--reports-api needs --reports" in result.output


@pytest.mark.parametrize("name", ["wgpolicyk8s.io", "PolicyReport", "openreports.io", "both"])
def test_an_api_not_in_the_table_is_refused(name: str) -> None:
    result = CliRunner().invoke(main, ["run", "--reports", "--reports-api", name], env=NO_CLUSTER)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--reports-api'" in result.output
