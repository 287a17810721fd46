"""The Dockerfile tokenizer: positions, continuations, heredocs, directives, stages."""

from __future__ import annotations

import pytest

from hardened_operator.errors import ManifestParseError
from hardened_operator.migrate.dockerfile_syntax import parse, parse_pairs, substitute
from tests.migrate.migrate_support import DOCKERFILES


def test_positions_cover_each_instruction_exactly() -> None:
    source = (DOCKERFILES / "heredoc.Dockerfile").read_text()
    dockerfile = parse(source)
    final = dockerfile.final
    assert final is not None
    keywords = [(i.keyword, i.line, i.end_line) for i in final.instructions]
    assert keywords == [
        ("RUN", 3, 7),  # the heredoc body belongs to the RUN
        ("COPY", 8, 11),  # <<- strips leading tabs from the terminator
        ("RUN", 12, 16),  # continuation with a comment line and a blank line inside
        ("USER", 17, 17),
        ("CMD", 18, 18),
    ]
    for instruction in final.instructions:
        text = source[instruction.start : instruction.end]
        assert text.lstrip().upper().startswith(instruction.keyword)
        assert text.endswith("\n")
    run = final.instructions[0]
    assert run.heredoc_bodies == ("set -eu\nmkdir -p /app/cache\nchmod 777 /app/cache",)
    continued = final.instructions[2]
    assert "comment lines" not in continued.args
    assert continued.args.startswith("set -eux;") and continued.args.endswith("chmod o+w /app")


def test_the_word_user_inside_a_heredoc_is_not_an_instruction() -> None:
    dockerfile = parse((DOCKERFILES / "heredoc.Dockerfile").read_text())
    assert dockerfile.final is not None
    users = [i for i in dockerfile.final.instructions if i.keyword == "USER"]
    assert [u.line for u in users] == [17]


def test_escape_directive_and_crlf() -> None:
    source = (DOCKERFILES / "escape-crlf.Dockerfile").read_bytes().decode()
    dockerfile = parse(source)
    assert dockerfile.escape == "`"
    assert dockerfile.newline == "\r\n"
    assert dockerfile.final is not None
    run = dockerfile.final.instructions[0]
    assert run.keyword == "RUN" and (run.line, run.end_line) == (3, 4)
    assert "C:\\temp" in run.args and "&& echo done" in run.args


def test_multi_stage_and_arg_based_from() -> None:
    dockerfile = parse((DOCKERFILES / "arg-from.Dockerfile").read_text())
    assert dockerfile.directives == {"syntax": "docker/dockerfile:1"}
    assert dockerfile.global_args == {"BASE": "python:3.12-slim", "APP_HOME": "/app"}
    assert [(s.name, s.image) for s in dockerfile.stages] == [
        ("build", "${BASE}"),
        (None, "${BASE}"),
    ]


def test_directives_only_count_at_the_top() -> None:
    dockerfile = parse("FROM scratch\n# escape=`\nRUN a \\\n b\n")
    assert dockerfile.directives == {} and dockerfile.escape == "\\"
    assert dockerfile.final is not None
    assert dockerfile.final.instructions[0].args == "a  b"


def test_file_without_trailing_newline() -> None:
    dockerfile = parse("FROM scratch\nUSER 1000")
    assert dockerfile.final is not None
    user = dockerfile.final.instructions[0]
    assert (user.start, user.end) == (13, 22)


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("FROM a\nRUN <<EOF\necho\n", 2, "never terminated"),
        ("RUN echo\nFROM a\n", 1, "before the first FROM"),
        ("# escape=x\nFROM a\n", 1, "escape"),
        ("FROM --platform=linux/amd64\n", 1, "without an image"),
    ],
)
def test_broken_dockerfiles_name_the_line(source: str, line: int, message: str) -> None:
    with pytest.raises(ManifestParseError, match=message) as caught:
        parse(source, file="X")
    assert caught.value.line == line and caught.value.file == "X"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("a=1 b=\"two words\" c='x'", {"a": "1", "b": "two words", "c": "x"}),
        ("PATH /usr/bin", {"PATH": "/usr/bin"}),
        ('"ai-system.io/non-root"="true"', {"ai-system.io/non-root": "true"}),
    ],
)
def test_label_and_env_pairs(args: str, expected: dict[str, str]) -> None:
    assert parse_pairs(args) == expected


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${BASE}", {"BASE": "python:3.11"}, "python:3.11"),
        ("$BASE", {"BASE": "python:3.11"}, "python:3.11"),
        ("${BASE:-python:3.12}", {}, "python:3.12"),
        ("${BASE:-python:3.12}", {"BASE": ""}, "python:3.12"),
        ("${TAG:+-slim}", {"TAG": "x"}, "-slim"),
        ("${TAG:+-slim}", {}, ""),
        ("${BASE}", {"BASE": None}, None),
        ("${MISSING}", {}, None),
    ],
)
def test_substitution(text: str, variables: dict[str, str | None], expected: str | None) -> None:
    assert substitute(text, variables) == expected
