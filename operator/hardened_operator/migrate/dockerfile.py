"""``hardened dockerfile lint|fix``: the final stage of a Dockerfile must run non-root.

Only the final stage is judged and edited: builder stages never reach the image that runs.
Fixes are text edits at the tokenizer's offsets, so everything not fixed stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from hardened_operator import conventions
from hardened_operator.errors import ManifestParseError
from hardened_operator.migrate import dockerfile_rules as rules
from hardened_operator.migrate.dockerfile_syntax import (
    Dockerfile,
    Instruction,
    Stage,
    parse,
    parse_arg,
    parse_pairs,
)

RULES: Final[dict[str, tuple[str, str]]] = {
    "HF001": ("final-user-root", "the final stage's last USER is root"),
    "HF002": ("final-user-missing", "the final stage never sets USER (runs as the base's user)"),
    "HF003": ("user-root-in-final-stage", "USER root switched on in the final stage"),
    "HF004": ("world-writable-chmod", "chmod makes files writable by every user"),
    "HF005": ("missing-healthcheck", "no HEALTHCHECK in the final stage"),
    "HF006": ("missing-security-labels", "security labels missing or wrong"),
    "HF007": ("duplicate-workdir", "WORKDIR repeats the directory already in effect"),
    "HF008": ("base-not-hardened", "the final stage is not built on the --base image"),
    "HF009": ("setuid-chmod", "chmod sets a setuid or setgid bit"),
    "HF010": ("secret-in-env-or-arg", "a secret baked into the image by ENV or ARG"),
    "HF011": ("final-group-root", "the final stage's last USER has group root"),
}
# nonroot (the default): what makes the image run as root, or lets a process become root or
# read a secret. hardened: everything, the seed organisation's conventions included.
PROFILES: Final = ("nonroot", "hardened")
DEFAULT_PROFILE: Final = "nonroot"
NONROOT_RULES: Final = frozenset({"HF001", "HF002", "HF004", "HF009", "HF010", "HF011"})


def rules_for(profile: str, base: str | None) -> frozenset[str]:
    """The rules a profile checks; HF008 only when a --base is given."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    chosen = NONROOT_RULES if profile == "nonroot" else frozenset(RULES) - {"HF008"}
    return chosen | {"HF008"} if base is not None else chosen


APP_USER_SPEC: Final = f"{conventions.APP_UID}:{conventions.APP_GID}"
VOLUME_DIRS: Final = tuple(f"{conventions.APP_ROOT}/{d}" for d in conventions.APP_DIRS)


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    rule: str
    message: str

    @property
    def name(self) -> str:
        return RULES[self.rule][0]

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.rule} {self.name}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "rule": self.rule,
            "name": self.name,
            "message": self.message,
        }


def _load(source: str, file: str) -> tuple[Dockerfile, Stage]:
    dockerfile = parse(source, file=file)
    final = dockerfile.final
    if final is None:
        raise ManifestParseError("no FROM instruction", file=file, line=1)
    return dockerfile, final


def lint_dockerfile(
    source: str,
    *,
    file: str = "Dockerfile",
    base: str | None = None,
    profile: str = DEFAULT_PROFILE,
) -> list[Finding]:
    """Findings for the final stage, in line order (the rules of ``profile``; HF008 needs
    ``base``)."""
    dockerfile, final = _load(source, file)
    enabled = rules_for(profile, base)
    findings: list[Finding] = []

    def add(line: int, rule: str, message: str) -> None:
        if rule in enabled:
            findings.append(Finding(file, line, rule, message))

    last = rules.effective_user(dockerfile, final)
    switches = rules.user_switches(dockerfile, final)
    if last is None:
        add(final.from_instruction.line, "HF002", f"no USER: add `USER {APP_USER_SPEC}` at the end")
    elif last.value is not None and not last.value.strip():
        add(
            last.instruction.line,
            "HF001",
            f"USER without a user: docker build refuses it; end with USER {APP_USER_SPEC}",
        )
    elif rules.is_root_user(last.value):
        shown = last.value if last.value is not None else f"{last.instruction.args} (unresolved)"
        add(
            last.instruction.line,
            "HF001",
            f"USER {shown} runs as root; end with USER {APP_USER_SPEC}",
        )
    elif last.value is not None and (group := rules.root_group(last.value)) is not None:
        add(
            last.instruction.line,
            "HF011",
            f"USER {last.value}: group {group} is root (GID 0 reads and writes what root's "
            f"group owns); use USER {_with_app_group(last.value)}",
        )
    for switch in switches:
        is_last = last is not None and switch.instruction.start == last.instruction.start
        if not is_last and rules.is_root_user(switch.value):
            add(
                switch.instruction.line,
                "HF003",
                f"USER {switch.instruction.args}: run root steps in a builder stage instead",
            )
    for instruction in final.instructions:
        if instruction.keyword == "RUN":
            for line, mode in _chmods(dockerfile.source, instruction, rules.is_world_writable):
                add(line, "HF004", f"chmod {mode}: give ownership to {APP_USER_SPEC} instead")
            for line, mode in _chmods(dockerfile.source, instruction, rules.sets_special_bits):
                add(
                    line,
                    "HF009",
                    f"chmod {mode}: a setuid/setgid file lets a non-root process gain that "
                    "owner's rights; drop the bit",
                )
    for instruction, name in _secrets(dockerfile, final):
        add(
            instruction.line,
            "HF010",
            f"{instruction.keyword} {name}: a secret in {instruction.keyword} stays in the image "
            "(docker history shows it); use RUN --mount=type=secret, or pass it at run time",
        )
    if not rules.has_instruction(dockerfile, final, "HEALTHCHECK"):
        add(final.from_instruction.line, "HF005", "no HEALTHCHECK (`HEALTHCHECK NONE` to opt out)")
    for message in _label_problems(dockerfile, final, last):
        add(final.from_instruction.line, "HF006", message)
    for instruction in rules.duplicate_workdirs(dockerfile, final):
        add(instruction.line, "HF007", f"WORKDIR {instruction.args} is already the directory")
    if base is not None:
        image = rules.root_image(dockerfile, final)
        if image is None or rules.normalise_image(image) != rules.normalise_image(base):
            shown = image if image is not None else f"{final.image} (unresolved ARG)"
            add(final.from_instruction.line, "HF008", f"built on {shown}, not {base}")
    return sorted(findings, key=lambda f: (f.line, f.rule))


def _with_app_group(value: str) -> str:
    user = value.strip().translate(str.maketrans("", "", "\"'")).partition(":")[0].strip()
    return f"{user}:{conventions.APP_GID}"


def _secrets(dockerfile: Dockerfile, final: Stage) -> list[tuple[Instruction, str]]:
    """ENV and ARG instructions of the final stage (and the stages it builds on) that put a
    secret-looking name into the image."""
    found: list[tuple[Instruction, str]] = []
    for stage in reversed(rules.lineage(dockerfile, final)):
        for instruction in stage.instructions:
            if instruction.keyword == "ENV":
                names = [k for k, v in parse_pairs(instruction.args).items() if v.strip()]
            elif instruction.keyword == "ARG":
                names = list(parse_arg(instruction.args))
            else:
                continue
            found.extend((instruction, name) for name in names if rules.is_secret_name(name))
    return found


def _expected_labels(last: rules.UserSwitch | None) -> dict[str, str]:
    expected = dict(conventions.SECURITY_LABELS)
    if last is not None and last.value is not None and not rules.is_root_user(last.value):
        uid = last.value.partition(":")[0]
        if uid.isdigit():
            expected["ai-system.io/run-as-user"] = str(int(uid))
    return expected


def _label_problems(
    dockerfile: Dockerfile, final: Stage, last: rules.UserSwitch | None
) -> list[str]:
    present = rules.labels(dockerfile, final)
    problems: list[str] = []
    for key, value in _expected_labels(last).items():
        if key not in present:
            problems.append(f'LABEL {key}="{value}" is missing')
        elif present[key] != value:
            problems.append(f'LABEL {key}="{present[key]}" should be "{value}"')
    return problems


def _chmods(
    source: str, instruction: Instruction, wanted: Callable[[str], bool]
) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for match in _chmod_matches(source, instruction, wanted):
        line = instruction.line + source.count("\n", instruction.start, match.start())
        found.append((line, match.group("mode")))
    return found


def _chmod_matches(
    source: str,
    instruction: Instruction,
    wanted: Callable[[str], bool] = rules.is_world_writable,
) -> list[re.Match[str]]:
    matches: list[re.Match[str]] = []
    for match in rules.CHMOD.finditer(source, instruction.start, instruction.end):
        line_start = source.rfind("\n", 0, match.start()) + 1
        if source[line_start : match.start()].lstrip().startswith("#"):
            continue  # a comment line inside the RUN
        if wanted(match.group("mode")):
            matches.append(match)
    return matches


# ---------------------------------------------------------------- fix


@dataclass
class FixResult:
    text: str
    changes: list[str] = field(default_factory=list)  # what was done
    manual: list[str] = field(default_factory=list)  # what needs a human, and why
    remaining: list[Finding] = field(default_factory=list)  # what lint still finds in text

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def fix_dockerfile(
    source: str,
    *,
    file: str = "Dockerfile",
    base: str | None = None,
    profile: str = DEFAULT_PROFILE,
) -> FixResult:
    """Fix what ``lint_dockerfile`` (same ``profile`` and ``base``) finds in the final stage.

    Everything lint would still report afterwards is in ``remaining``, so that fix and lint
    never disagree about the same file. ``base`` rebases a ``python:*`` final stage on it;
    ``profile="hardened"`` also adds the organisation's VOLUMEs, LABELs and HEALTHCHECK.
    """
    dockerfile, final = _load(source, file)
    enabled = rules_for(profile, base)
    edits: list[tuple[int, int, str]] = []
    result = FixResult(source)
    nl = dockerfile.newline

    rebased = base is not None and _rebase(dockerfile, final, base, edits, result)
    _remove_root_users(dockerfile, final, edits, result)
    if "HF007" in enabled:
        for instruction in rules.duplicate_workdirs(dockerfile, final):
            edits.append((instruction.start, instruction.end, ""))
            result.changes.append(f"line {instruction.line}: dropped duplicate WORKDIR")
    for instruction in final.instructions:
        if instruction.keyword == "RUN":
            _fix_chmods(source, instruction, edits, result)
    # setuid bits and secrets need a human: they are left to ``remaining`` (lint's findings).
    if rebased:
        _warn_rebased_runs(final, result)

    last = _last_user_after(dockerfile, final, edits)
    appended: list[str] = []
    needs_user = last is None or rules.is_root_user(last.value)
    if not needs_user and last is not None and rules.root_group(last.value) is not None:
        assert last.value is not None
        fixed_user = _with_app_group(last.value)
        if any(last.instruction is i for i in final.instructions):
            instruction = last.instruction
            raw = source[instruction.start : instruction.end]
            ending = raw[len(raw.rstrip("\r\n")) :]
            edits.append((instruction.start, instruction.end, f"USER {fixed_user}{ending}"))
            result.changes.append(
                f"line {instruction.line}: USER {instruction.args} → USER {fixed_user} (group root)"
            )
        else:
            appended.append(f"USER {fixed_user}")
    if profile == "hardened":
        _append_conventions(dockerfile, final, base, rebased, last, needs_user, appended, result)
    if needs_user:
        appended.append(f"USER {APP_USER_SPEC}")
    if appended:
        prefix = "" if source.endswith("\n") or not source else nl
        edits.append((len(source), len(source), prefix + nl.join(appended) + nl))
        result.changes.extend(f"appended {line.split(' ', 1)[0]}" for line in appended)
    result.text = _apply(source, edits)
    result.remaining = lint_dockerfile(result.text, file=file, base=base, profile=profile)
    return result


def _append_conventions(
    dockerfile: Dockerfile,
    final: Stage,
    base: str | None,
    rebased: bool,
    last: rules.UserSwitch | None,
    needs_user: bool,
    appended: list[str],
    result: FixResult,
) -> None:
    """The seed organisation's VOLUMEs, LABELs and HEALTHCHECK (``--profile hardened``)."""
    missing_volumes = [d for d in VOLUME_DIRS if d not in rules.volumes(final)]
    if missing_volumes:
        appended.append("VOLUME [" + ", ".join(f'"{d}"' for d in missing_volumes) + "]")
    present = rules.labels(dockerfile, final)
    expected = _expected_labels(None if needs_user else last)
    missing_labels = {k: v for k, v in expected.items() if k not in present}
    if missing_labels:
        appended.append("LABEL " + " ".join(f'{k}="{v}"' for k, v in missing_labels.items()))
    for key, value in expected.items():
        if key in present and present[key] != value:
            result.manual.append(f'LABEL {key}="{present[key]}": set it to "{value}"')
    if not rules.has_instruction(dockerfile, final, "HEALTHCHECK"):
        image = base if rebased else rules.root_image(dockerfile, final)
        if image is not None and (
            rules.is_python_image(image)
            or (base is not None and rules.normalise_image(image) == rules.normalise_image(base))
        ):
            appended.append(_healthcheck())
        else:
            # The standard check runs python; an image without it would never turn healthy.
            result.manual.append(
                f"no HEALTHCHECK: the standard one needs python, which {image or 'the base'} "
                "may not have; add one that fits the image"
            )


def _healthcheck() -> str:
    command = " ".join(
        f'"{part}"' if " " in part else part for part in conventions.HEALTH_EXEC_COMMAND
    )
    return (
        f"HEALTHCHECK --interval={conventions.HEALTH_INTERVAL_SECONDS}s"
        f" --timeout={conventions.HEALTH_TIMEOUT_SECONDS}s"
        f" --retries={conventions.HEALTH_RETRIES}"
        f" --start-period={conventions.HEALTH_START_PERIOD_SECONDS}s"
        f" CMD {command}"
    )


def _rebase(
    dockerfile: Dockerfile,
    final: Stage,
    base: str,
    edits: list[tuple[int, int, str]],
    result: FixResult,
) -> bool:
    image = rules.resolved_image(dockerfile, final)
    if image is not None and dockerfile.stage_named(image) is not None:
        root = rules.root_image(dockerfile, final)
        if root is None or rules.normalise_image(root) != rules.normalise_image(base):
            result.manual.append(
                f"line {final.from_instruction.line}: the final stage builds on stage {image!r}; "
                f"rebase that stage on {base} by hand"
            )
        return False
    if image is not None and rules.normalise_image(image) == rules.normalise_image(base):
        return False
    if image is None or not rules.is_python_image(image):
        shown = image if image is not None else f"{final.image} (unresolved ARG)"
        result.manual.append(
            f"line {final.from_instruction.line}: base {shown} is not python:*; "
            f"rebase on {base} by hand if the application allows"
        )
        return False
    instruction = final.from_instruction
    raw = dockerfile.source[instruction.start : instruction.end]
    match = re.match(r"(\s*FROM(?:\s+--\S+)*\s+)(\S+)", raw, re.IGNORECASE)
    if match is None:  # pragma: no cover - the tokenizer found FROM with an image
        result.manual.append(f"line {instruction.line}: could not locate the image to rebase")
        return False
    start = instruction.start + match.start(2)
    edits.append((start, start + len(match.group(2)), base))
    result.changes.append(f"line {instruction.line}: rebased {match.group(2)} on {base}")
    return True


def _remove_root_users(
    dockerfile: Dockerfile, final: Stage, edits: list[tuple[int, int, str]], result: FixResult
) -> None:
    """Delete root USER lines nothing depends on; keep (and report) those a RUN needs."""
    switches = rules.user_switches(dockerfile, final)
    positions = {id(instruction): i for i, instruction in enumerate(final.instructions)}
    for n, switch in enumerate(switches):
        if not rules.is_root_user(switch.value):
            continue
        if not switch.instruction.args.strip():
            edits.append((switch.instruction.start, switch.instruction.end, ""))
            result.changes.append(
                f"line {switch.instruction.line}: removed USER without a user "
                "(docker build refuses it)"
            )
            continue
        begin = positions[id(switch.instruction)] + 1
        stop = (
            positions[id(switches[n + 1].instruction)]
            if n + 1 < len(switches)
            else len(final.instructions)
        )
        needing = [i for i in final.instructions[begin:stop] if i.keyword == "RUN"]
        if needing:
            lines = ", ".join(str(i.line) for i in needing)
            result.manual.append(
                f"line {switch.instruction.line}: kept USER {switch.instruction.args}: RUN at "
                f"line(s) {lines} may need root; move them to a builder stage"
            )
        else:
            edits.append((switch.instruction.start, switch.instruction.end, ""))
            result.changes.append(
                f"line {switch.instruction.line}: removed USER {switch.instruction.args}"
            )


def _last_user_after(
    dockerfile: Dockerfile, final: Stage, edits: list[tuple[int, int, str]]
) -> rules.UserSwitch | None:
    removed = {start for start, end, text in edits if text == "" and end > start}
    remaining = [
        s for s in rules.user_switches(dockerfile, final) if s.instruction.start not in removed
    ]
    if remaining:
        return remaining[-1]
    ancestors = rules.lineage(dockerfile, final)[1:]
    for ancestor in ancestors:
        switches = rules.user_switches(dockerfile, ancestor)
        if switches:
            return switches[-1]
    return None


def _fix_chmods(
    source: str, instruction: Instruction, edits: list[tuple[int, int, str]], result: FixResult
) -> None:
    for match in _chmod_matches(source, instruction):
        line = instruction.line + source.count("\n", instruction.start, match.start())
        line_start = source.rfind("\n", 0, match.start()) + 1
        before = source[line_start : match.start()]
        paths = rules.CHMOD_PATHS.match(source, match.end())
        if re.search(r"-exec\b|xargs\b", before) or paths is None:
            result.manual.append(f"line {line}: chmod {match.group('mode')}: rewrite by hand")
            continue
        after = source[paths.end() : paths.end() + 2]
        if after.startswith("\\"):
            result.manual.append(f"line {line}: chmod {match.group('mode')}: rewrite by hand")
            continue
        flags = match.group("flags")
        replacement = f"chown{flags} {APP_USER_SPEC}{paths.group(0)}"
        safe = _without_world_write(match.group("mode"))
        if safe:
            replacement += f" && chmod{flags} {safe}{paths.group(0)}"
        edits.append((match.start(), paths.end(), replacement))
        result.changes.append(
            f"line {line}: chmod {match.group('mode')} → owned by {APP_USER_SPEC}"
            + (f", mode {safe}" if safe else "")
        )


def _without_world_write(mode: str) -> str:
    """The same mode without write for others (``777`` → ``775``); "" if nothing is left."""
    if mode.isdigit():
        return mode[:-1] + str(int(mode[-1]) & ~2)
    clauses: list[str] = []
    for clause in mode.split(","):
        match = re.fullmatch(r"([ugoa]*)([-+=])([rwxXst]*)", clause)
        if match is None:
            clauses.append(clause)
            continue
        who, op, perms = match.groups()
        if op == "-" or "w" not in perms or (who and "o" not in who and "a" not in who):
            clauses.append(clause)
            continue
        who = "ugo" if not who or "a" in who else who
        others = who.replace("o", "")
        if others:
            clauses.append(f"{others}{op}{perms}")
        rest = perms.replace("w", "")
        if rest or op == "=":
            clauses.append(f"o{op}{rest}")
    return ",".join(clauses)


def _warn_rebased_runs(final: Stage, result: FixResult) -> None:
    before_user: list[int] = []
    for instruction in final.instructions:
        if instruction.keyword == "USER":
            break
        if instruction.keyword == "RUN":
            before_user.append(instruction.line)
    if before_user:
        lines = ", ".join(map(str, before_user))
        result.manual.append(
            f"RUN at line(s) {lines} ran as root on python:*; on the hardened base they run as "
            f"its user ({conventions.APP_USER}). If one needs root, put `USER root` before it "
            f"(the final `USER {APP_USER_SPEC}` keeps run time non-root)"
        )


def _apply(source: str, edits: list[tuple[int, int, str]]) -> str:
    text = source
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
