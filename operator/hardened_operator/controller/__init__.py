"""Thin kopf glue: watch HardenedServices and what they own, build, compare, apply, report.

Rule: handlers decide nothing themselves -- builders say what should exist, :mod:`.status`
(pure) says how it is going, ``k8s`` does every API call. Importing this package does not import
kopf; :mod:`.handlers` does, and only ``hardened run`` imports it.
"""
