"""Audit manifests on disk (or stdin) against the policy, and fix them minimally.

Rule of this package: local files in, reports and fixed files out; never the network, and never
the kubernetes client or kopf (``hardened audit`` must start fast in CI). ``ruamel.yaml`` is only
imported by ``--fix``.

Modules: ``sources`` (paths -> texts), ``documents`` (text -> Kubernetes objects with line
numbers), ``report`` (objects -> entries, exit codes), ``formats`` (table, JSON, SARIF),
``fixers`` (violations -> minimal securityContext edits), ``rewrite`` (text -> fixed text),
``ruamel_tree`` (edits on a ruamel.yaml tree, keeping comments where they were).
"""

from __future__ import annotations

from hardened_operator.audit.report import EXIT_CLEAN, EXIT_UNREADABLE, EXIT_VIOLATIONS, Entry

__all__ = ["EXIT_CLEAN", "EXIT_UNREADABLE", "EXIT_VIOLATIONS", "Entry"]
