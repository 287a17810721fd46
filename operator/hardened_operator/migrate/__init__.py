"""Migration front ends: docker-compose → HardenedService, and Dockerfile lint/fix.

Rule of this package: local files in, YAML/text out. It reads the compose files, env files and
Dockerfiles it is given and nothing else; it never talks to a cluster or the network and never
imports kubernetes, kopf or aiohttp. Every input without a faithful mapping is *reported*
(``Note``), never dropped silently.
"""
