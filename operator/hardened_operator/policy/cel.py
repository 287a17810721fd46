"""A check's rule in CEL, for the API server's in-process ValidatingAdmissionPolicy (pure).

Each check module that CEL can express carries a :class:`CelRule` next to its Python function
(``Check.cel``): the same fields, the same allowed values, the same findings' messages (the
module's message constants feed both), so the rule reads as a second spelling of the check.
``hardened_operator.inprocess`` assembles the rules of a profile into a policy; the
differential test (``tests/policy/test_policy_cel_differential.py``) proves, through a real
kube-apiserver, that the policy and the webhook give the same verdict on the whole corpus.

The expressions read the variables the generated policy defines (``inprocess.policy``):

``variables.spec``
    the pod spec (of the Pod itself, or of the workload's pod template);
``variables.containers``
    init containers, containers and ephemeral containers, in the engine's visiting order;
``variables.relaxed``
    PSA's ``hostUsers: false`` relaxation: ``false`` in the ``nonroot`` profiles;
``variables.windows``
    ``spec.os.name == 'windows'``.

A container predicate is written over ``c``, one element of ``variables.containers``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .check import render_value

FixScope = Literal["pod", "container"]


def lit(text: str) -> str:
    """``text`` as a CEL string literal (JSON's double-quoted escapes are CEL's too)."""
    return json.dumps(text, ensure_ascii=True)


@dataclass(frozen=True)
class CelFinding:
    """One way a pod (or one container) fails the check, as the denial must say it.

    ``bad`` is a CEL condition (over ``c`` for a container finding); ``field`` is relative to
    the pod spec (pod findings) or to the container (container findings); ``message`` is the
    finding's text, a CEL string expression (``lit(...)`` for a fixed one); the fix sets
    ``fix_field`` (relative to the pod spec or to the container, per ``fix_scope``) to
    ``fix_value``, or removes it when ``fix_remove``; ``fix_template`` words a fix that is
    neither (``{path}`` stands for the field's path).
    """

    bad: str
    field: str
    message: str
    fix_scope: FixScope
    fix_field: str
    fix_value: Any = None
    fix_remove: bool = False
    fix_template: str | None = None

    def fix_words(self) -> tuple[str, str]:
        """The fix's wording before and after the field's path, as ``render_fix`` says it:
        ``("set ", ": true")``, ``("remove ", "")``."""
        if self.fix_template is not None:
            before, _, after = self.fix_template.partition("{path}")
            return before, after
        if self.fix_remove:
            return "remove ", ""
        return "set ", f": {render_value(self.fix_value)}"


@dataclass(frozen=True)
class CelRule:
    """A check in CEL: it allows a pod iff ``skip`` holds (when given), or no pod finding's
    ``bad`` holds and no container has a finding whose ``bad`` holds."""

    pod: tuple[CelFinding, ...] = ()
    container: tuple[CelFinding, ...] = ()
    skip: str | None = None  # e.g. "variables.windows": the check does not apply

    def container_bad(self) -> str:
        """One CEL condition over ``c``: the container has at least one finding."""
        return " || ".join(f"({finding.bad})" for finding in self.container)

    def expression(self) -> str:
        """The validation's expression: true means allowed."""
        parts = [f"!({finding.bad})" for finding in self.pod]
        if self.container:
            parts.append(f"variables.containers.all(c, !({self.container_bad()}))")
        allowed = " && ".join(parts) if parts else "true"
        return f"{self.skip} || ({allowed})" if self.skip else allowed
