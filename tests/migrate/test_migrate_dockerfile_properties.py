"""Properties of ``fix`` over generated Dockerfiles (hypothesis): idempotent, builder stages
untouched, untargeted lines kept, and the final stage left non-root with nothing fixable."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hardened_operator.migrate.dockerfile_syntax import parse
from tests.migrate.migrate_support import is_subsequence, org_fix, org_lint

BASES = [
    "python:3.11-slim",
    "python",
    "docker.io/library/python:3.12",
    "ai_system/base:1.0",
    "ubuntu:24.04",
    "stage0",  # an earlier stage (or, in the first stage, an image of that name)
]
USERS = ["root", "0", "0:0", "root:root", "1000", "1001:1001", "ai"]
MODES = ["777", "0777", "755", "a+rwx", "o+w", "u+x", "-R 777", "-R 644"]

instruction = st.one_of(
    st.sampled_from(USERS).map(lambda u: f"USER {u}"),
    st.sampled_from(["/app", "/srv", "data", "/app/"]).map(lambda d: f"WORKDIR {d}"),
    st.sampled_from(MODES).map(lambda m: f"RUN mkdir -p /app/x && chmod {m} /app/x"),
    st.just("RUN apt-get update \\\n    # inside a continuation\n    && apt-get install -y curl"),
    st.just("# a comment"),
    st.just(""),
    st.just("COPY . /app"),
    st.just('ENV A=1 B="two words"'),
    st.just('CMD ["python", "main.py"]'),
    st.just('LABEL ai-system.io/non-root="true"'),
    st.just("HEALTHCHECK CMD true"),
)


@st.composite
def dockerfiles(draw: st.DrawFn) -> str:
    stages = draw(st.integers(min_value=1, max_value=3))
    lines: list[str] = []
    for index in range(stages):
        base = draw(st.sampled_from(BASES))
        name = f" AS stage{index}" if draw(st.booleans()) else ""
        lines.append(f"FROM {base}{name}")
        lines.extend(draw(st.lists(instruction, max_size=8)))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join("\n".join(lines).split("\n"))
    return text + (newline if draw(st.booleans()) else "")


@settings(max_examples=150, deadline=None)
@given(dockerfiles())
def test_fix_properties(source: str) -> None:
    result = org_fix(source)
    fixed = result.text
    # Idempotent.
    assert org_fix(fixed).text == fixed
    # Builder stages are byte for byte the same.
    final = parse(source).final
    assert final is not None
    cut = final.from_instruction.start
    assert fixed[:cut] == source[:cut]
    # No newline style is mixed in.
    if "\r\n" in source:
        assert fixed.count("\n") == fixed.count("\r\n")
    # Lines outside the final stage's FROM/USER/WORKDIR/RUN are kept, in order.
    targets = {final.from_instruction.line}
    for item in final.instructions:
        if item.keyword in ("USER", "WORKDIR", "RUN"):
            targets.update(range(item.line, item.end_line + 1))
    kept = [line for n, line in enumerate(source.splitlines(), 1) if n not in targets]
    assert is_subsequence(kept, fixed.splitlines())
    # What fix is responsible for is gone; what it refuses to guess is reported.
    remaining = {f.rule for f in org_lint(fixed)}
    assert not remaining & {"HF001", "HF002", "HF007"}
    if "HF005" in remaining:  # only for a base that may lack python
        assert any("HEALTHCHECK" in line for line in result.manual)
    if "HF008" in remaining:  # not python:*, or built on another stage
        assert any("by hand" in line or "not python" in line for line in result.manual)
    if "HF004" in remaining or "HF003" in remaining:
        assert result.manual
    if "HF006" in remaining:  # a LABEL with a wrong value is left to a human
        assert any("LABEL" in line for line in result.manual)
