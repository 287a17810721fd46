"""Fixtures for the audit tests."""

from __future__ import annotations

import pytest

from tests.audit.audit_support import RunAudit, invoke


@pytest.fixture
def run_audit() -> RunAudit:
    return invoke
