"""hardened-operator: makes non-root the only way to run on Kubernetes.

Layers, bottom to top (enforced by import-linter, see ``pyproject.toml``):

``errors``      the exception hierarchy; imports nothing of ours.
``model``       pure: the typed HardenedService API (pydantic), the CRD's one source of truth.
``policy``      pure: the checks, profiles and the container visitor. No I/O.
``builders``    pure: HardenedService spec -> Kubernetes objects (dicts). No I/O.
``review``      pure: any Kubernetes object -> its pod specs -> violations.
``audit``, ``migrate``   local files in, reports and fixed files out; never the network.
``webhook``     the admission HTTP server (aiohttp); no cluster access.
``k8s``         the only package that talks to the Kubernetes API.
``controller``  thin kopf glue: handlers call builders, then ``k8s``.
``dev``         the local control plane (etcd + kube-apiserver processes).
``cli``         the ``hardened`` command; imports the rest lazily.
"""

__version__ = "0.1.0"

API_GROUP = "ai-system.io"
API_VERSION = "v1alpha1"
KIND = "HardenedService"
PLURAL = "hardenedservices"
FIELD_MANAGER = "hardened-operator"
