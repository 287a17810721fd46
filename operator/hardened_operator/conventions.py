"""The seed report's defaults, named once (pure constants; imports nothing of ours).

Every front end (builders, Dockerfile fixer, compose converter, manifests, Helm chart tests)
takes these values from here so that "the `ai` user is 1000:1000" is written down once.
"""

from __future__ import annotations

from typing import Final

APP_USER: Final = "ai"
APP_UID: Final = 1000
APP_GID: Final = 1000
APP_DIRS: Final = ("logs", "data", "models", "cache")  # mounted at /app/<dir>
APP_ROOT: Final = "/app"

# The seed's Docker HEALTHCHECK, carried over to probes.
HEALTH_INTERVAL_SECONDS: Final = 30
HEALTH_TIMEOUT_SECONDS: Final = 10
HEALTH_RETRIES: Final = 3
HEALTH_START_PERIOD_SECONDS: Final = 60
HEALTH_EXEC_COMMAND: Final = ("python", "-c", "import sys; sys.exit(0)")

# Security labels, on every object we generate and in every Dockerfile we harden.
SECURITY_LABELS: Final[dict[str, str]] = {
    "ai-system.io/security-profile": "hardened",
    "ai-system.io/non-root": "true",
    "ai-system.io/run-as-user": str(APP_UID),
}

# Namespace label that routes admission to a mode (see manifests' ValidatingWebhookConfiguration).
ENFORCE_LABEL: Final = "ai-system.io/enforce"

OPERATOR_NAMESPACE_DEFAULT: Final = "hardened-system"
