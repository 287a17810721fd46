"""What the final stage of a Dockerfile does: its user, base, labels, chmods (pure analysis)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from hardened_operator.migrate.dockerfile_syntax import (
    Dockerfile,
    Instruction,
    Stage,
    parse_arg,
    parse_pairs,
    substitute,
)

_ROOT = ("0", "root")
_QUOTES = str.maketrans("", "", "\"'")
_PYTHON_REPOS = (
    "python",
    "library/python",
    "docker.io/library/python",
    "index.docker.io/library/python",
)
# chmod FLAGS MODE [paths]: FLAGS and MODE kept apart so a fix can rewrite just them.
CHMOD = re.compile(
    r"(?<![\w./-])chmod"
    r"(?P<flags>(?:[ \t]+-(?:-[a-z-]+|[A-Za-z]+))*)"
    r"[ \t]+(?P<mode>[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*(?:,[ugoa]*[-+=][rwxXst]*)*)"
    r"(?=[\s;&|)]|$)"
)
CHMOD_PATHS = re.compile(r"(?:[ \t]+(?![&|;)])[^\s&|;()\\]+)+")


def is_root_user(value: str | None) -> bool:
    """root, 0, root:root, 0:0, 00, root:anything; None (cannot be resolved) counts as root.

    BuildKit expands USER's argument as a shell word, removing quotes (``USER "0"`` and
    ``USER 'root'`` are root), and the runtime parses a numeric id with Go's strconv.Atoi,
    which accepts a sign (``USER +0`` is UID 0).
    """
    if value is None:
        return True
    user = value.strip().translate(_QUOTES).partition(":")[0].strip()
    if not user:
        return True  # a bare USER (or ":1000"): docker build refuses it; never "non-root"
    return _is_root_id(user)


def _is_root_id(name: str) -> bool:
    digits = name[1:] if name[:1] in ("+", "-") else name
    return name in _ROOT or (digits.isdigit() and int(digits) == 0)


def root_group(value: str | None) -> str | None:
    """The group of ``USER user:group`` when it is root (``0``, ``root``), else None."""
    if value is None:
        return None
    _user, colon, group = value.strip().translate(_QUOTES).partition(":")
    group = group.strip()
    return group if colon and group and _is_root_id(group) else None


def sets_special_bits(mode: str) -> bool:
    """setuid or setgid: ``4755``, ``2755``, ``u+s``, ``g+s``, ``+s``."""
    if mode.isdigit():
        return len(mode) == 4 and int(mode[0]) & 6 != 0
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if match is not None and match.group(2) in "+=" and "s" in match.group(3):
            return True
    return False


# Names BuildKit's SecretsUsedInArgOrEnv check would call secrets, by whole "_" words (so
# TOKENIZERS_PARALLELISM is not a token); *_FILE and *_PATH name where a secret is, not it.
_SECRET_WORDS = re.compile(
    r"(?:^|_)(?:PASSWORD|PASSWD|SECRET|TOKEN|APIKEY|API_KEY|PRIVATE_KEY|ACCESS_KEY|"
    r"SECRET_KEY|CREDENTIALS?|AUTH_KEY)(?:_|$)",
    re.IGNORECASE,
)
_NOT_SECRET_SUFFIX = re.compile(r"_(?:FILE|PATH|DIR|URL_FILE)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_WORDS.search(name)) and not _NOT_SECRET_SUFFIX.search(name)


def is_world_writable(mode: str) -> bool:
    if mode.isdigit():
        return int(mode[-1]) & 2 == 2
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if match is None:
            continue
        who, op, perms = match.groups()
        if op in "+=" and "w" in perms and (not who or "o" in who or "a" in who):
            return True
    return False


def normalise_image(image: str) -> str:
    """``docker.io/library/python:3.11@sha256:…`` → ``python:3.11`` (for comparisons)."""
    image = image.partition("@")[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/", "docker.io/"):
        if image.startswith(prefix):
            image = image[len(prefix) :]
            break
    return image


def is_python_image(image: str) -> bool:
    repo = image.partition("@")[0].rpartition(":")[0] or image.partition("@")[0]
    if "/" in image.partition("@")[0].rpartition(":")[2]:  # "host:port/repo" without a tag
        repo = image.partition("@")[0]
    return repo in _PYTHON_REPOS


@dataclass
class StageVars:
    """ARG and ENV values visible at each instruction of a stage (for USER and WORKDIR)."""

    values: dict[str, str | None]

    def apply(self, instruction: Instruction, global_args: dict[str, str | None]) -> None:
        if instruction.keyword == "ARG":
            for name, value in parse_arg(instruction.args).items():
                # A bare ARG inside a stage re-imports the global default.
                self.values[name] = value if value is not None else global_args.get(name)
        elif instruction.keyword == "ENV":
            for name, value in parse_pairs(instruction.args).items():
                self.values[name] = substitute(value, self.values)


def resolved_image(dockerfile: Dockerfile, stage: Stage) -> str | None:
    """The image a stage's FROM names, with global ARGs substituted (None if unresolvable)."""
    return substitute(stage.image, dict(dockerfile.global_args))


def lineage(dockerfile: Dockerfile, stage: Stage) -> list[Stage]:
    """The stage and the earlier stages it is built FROM (nearest first)."""
    chain = [stage]
    while True:
        image = resolved_image(dockerfile, chain[-1])
        parent = dockerfile.stage_named(image) if image else None
        if parent is None or parent.index >= chain[-1].index or parent in chain:
            return chain
        chain.append(parent)


def root_image(dockerfile: Dockerfile, stage: Stage) -> str | None:
    return resolved_image(dockerfile, lineage(dockerfile, stage)[-1])


@dataclass(frozen=True)
class UserSwitch:
    instruction: Instruction
    value: str | None  # resolved, None if it cannot be resolved


def user_switches(dockerfile: Dockerfile, stage: Stage) -> list[UserSwitch]:
    variables = StageVars({})
    switches: list[UserSwitch] = []
    for instruction in stage.instructions:
        variables.apply(instruction, dockerfile.global_args)
        if instruction.keyword == "USER":
            switches.append(UserSwitch(instruction, substitute(instruction.args, variables.values)))
    return switches


def effective_user(dockerfile: Dockerfile, stage: Stage) -> UserSwitch | None:
    """The last USER of the stage, else of the stages it builds on; None if none sets one."""
    for ancestor in lineage(dockerfile, stage):
        switches = user_switches(dockerfile, ancestor)
        if switches:
            return switches[-1]
    return None


def duplicate_workdirs(dockerfile: Dockerfile, stage: Stage) -> list[Instruction]:
    """WORKDIRs that set the directory already in effect (they change nothing)."""
    variables = StageVars({})
    current: str | None = None
    duplicates: list[Instruction] = []
    for instruction in stage.instructions:
        variables.apply(instruction, dockerfile.global_args)
        if instruction.keyword != "WORKDIR":
            continue
        target = substitute(instruction.args.strip().strip("\"'"), variables.values)
        if target is None:
            current = None
            continue
        if not target.startswith("/"):
            target = posixpath.join(current, target) if current is not None else ""
        resolved = posixpath.normpath(target) if target else None
        if resolved is not None and resolved == current:
            duplicates.append(instruction)
        current = resolved
    return duplicates


def labels(dockerfile: Dockerfile, stage: Stage) -> dict[str, str]:
    """LABELs of the stage and the stages it builds on (later ones win)."""
    result: dict[str, str] = {}
    for ancestor in reversed(lineage(dockerfile, stage)):
        for instruction in ancestor.instructions:
            if instruction.keyword == "LABEL":
                result.update(parse_pairs(instruction.args))
    return result


def has_instruction(dockerfile: Dockerfile, stage: Stage, keyword: str) -> bool:
    return any(
        instruction.keyword == keyword
        for ancestor in lineage(dockerfile, stage)
        for instruction in ancestor.instructions
    )


def volumes(stage: Stage) -> set[str]:
    declared: set[str] = set()
    for instruction in stage.instructions:
        if instruction.keyword != "VOLUME":
            continue
        text = instruction.args.strip()
        if text.startswith("["):
            declared.update(re.findall(r"\"([^\"]*)\"", text))
        else:
            declared.update(text.split())
    return {posixpath.normpath(path) for path in declared if path}
