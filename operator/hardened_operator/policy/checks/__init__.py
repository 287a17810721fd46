"""One module per check (pure: no I/O here). ``ALL`` lists them in PSA's evaluation order.

Every check is a pure function of one pod (metadata + spec) returning a ``CheckResult`` whose
reason and detail follow PSA's wording and whose findings name each offending field.
"""

from __future__ import annotations

from ..check import LEVEL_ORDER, Check
from . import (
    allow_privilege_escalation,
    app_armor_profile,
    capabilities_baseline,
    capabilities_restricted,
    host_namespaces,
    host_path_volumes,
    host_ports,
    host_probes_and_host_lifecycle,
    privileged,
    proc_mount,
    proc_mount_restricted,
    restricted_volumes,
    root_groups,
    run_as_non_root,
    run_as_user,
    se_linux_options,
    seccomp_profile_baseline,
    seccomp_profile_restricted,
    sysctls,
    windows_host_process,
)

_REGISTERED: tuple[Check, ...] = (
    host_namespaces.CHECK,
    privileged.CHECK,
    capabilities_baseline.CHECK,
    host_path_volumes.CHECK,
    host_ports.CHECK,
    app_armor_profile.CHECK,
    se_linux_options.CHECK,
    proc_mount.CHECK,
    seccomp_profile_baseline.CHECK,
    sysctls.CHECK,
    windows_host_process.CHECK,
    host_probes_and_host_lifecycle.CHECK,
    restricted_volumes.CHECK,
    allow_privilege_escalation.CHECK,
    run_as_non_root.CHECK,
    run_as_user.CHECK,
    seccomp_profile_restricted.CHECK,
    capabilities_restricted.CHECK,
    proc_mount_restricted.CHECK,
    root_groups.CHECK,
)

# PSA's evaluation order: baseline checks, then restricted ones, each sorted by id (then our
# own ``hardened`` checks). Results come out in this order, so joining "reason (detail)"
# gives PSA's own denial message.
ALL: tuple[Check, ...] = tuple(
    sorted(_REGISTERED, key=lambda check: (LEVEL_ORDER[check.level], check.id))
)
