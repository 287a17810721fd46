"""The local control plane: etcd + kube-apiserver (+ the operator or webhook) as processes.

Rule: this package starts, watches and stops processes and writes files; every API call it
needs (install the CRD, register the webhook, readiness) goes through ``hardened_operator.k8s``.
"""
