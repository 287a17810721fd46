"""``hardened audit`` for people: on a terminal the table fits its width and is
coloured; NO_COLOR, pipes and -o files get plain text; --format json keeps every word."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.audit.audit_support import ROOT

EXAMPLES = ROOT / "docs" / "examples" / "audit"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def on_terminal(*args: str, columns: int, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``hardened audit ARGS`` with stdout on a pseudo-terminal of ``columns`` columns."""
    leader, follower = pty.openpty()
    environment = {**os.environ, "COLUMNS": str(columns)}
    environment.pop("NO_COLOR", None)  # colour unless the test asks for NO_COLOR
    environment.update(env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "hardened_operator.cli", "audit", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environment,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=120)
    assert "Traceback" not in stderr, stderr
    return code, b"".join(chunks).decode().replace("\r\n", "\n")


def piped(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hardened_operator.cli", "audit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_table_fits_a_terminal_and_is_coloured() -> None:
    for columns in (100, 60):
        code, out = on_terminal(str(EXAMPLES), columns=columns)
        assert code == 1
        plain = ANSI.sub("", out)
        assert max(len(line) for line in plain.splitlines()) <= columns, plain
        assert "\x1b[31m" in out  # violations in red
        assert "runAsNonRoot" in plain


def test_wide_terminal_keeps_the_table_and_wraps_detail() -> None:
    code, out = on_terminal(str(EXAMPLES), columns=180, env={"NO_COLOR": "1"})
    assert code == 1
    assert "\x1b[" not in out  # NO_COLOR is honoured on a terminal too
    lines = out.splitlines()
    assert lines[0].split() == ["LOCATION", "OBJECT", "CONTAINER", "CHECK", "DETAIL"]
    assert max(len(line) for line in lines) <= 180


def test_pipes_and_files_get_whole_plain_lines(tmp_path: Path) -> None:
    ran = piped(str(EXAMPLES))
    assert ran.returncode == 1
    assert "\x1b[" not in ran.stdout
    full = json.loads(piped(str(EXAMPLES), "--format", "json").stdout)
    # Every detail is whole on one line of the piped table, as in the JSON.
    for entry in full:
        assert any(entry["message"] in line for line in ran.stdout.splitlines()), entry
    out = tmp_path / "report.txt"
    to_file = piped(str(EXAMPLES), "-o", str(out))
    assert to_file.returncode == 1 and to_file.stdout == ""
    assert out.read_text(encoding="utf-8") == ran.stdout
