"""``k8s.inventory`` answers the API server may give that a healthy plane does not: an expired
continue token, a kind not served, a server error, a body that is not JSON. Each is named in
the result (never an empty, "clean" list); a stand-in client serves the pages."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hardened_operator.k8s import inventory

Answer = tuple[int, bytes]


def _page(items: list[dict[str, Any]], token: str = "") -> Answer:
    return 200, json.dumps({"items": items, "metadata": {"continue": token}}).encode()


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "shop", "uid": name}, "spec": {}}


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def read(self) -> bytes:
        return self.body


@dataclass
class _Configuration:
    host: str = "https://api.example:6443"


@dataclass
class FakeApi:
    """Answers ``GET path`` with ``route(path, continue token)``; records the calls."""

    route: Callable[[str, str], Answer]
    configuration: _Configuration = field(default_factory=_Configuration)
    calls: list[str] = field(default_factory=list)

    def param_serialize(self, method: str, path: str, **kwargs: Any) -> tuple[Any, ...]:
        query = kwargs.get("query_params") or []
        url = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
        return method, url, {}, None, None

    def call_api(self, method: str, url: str, **kwargs: Any) -> _Response:
        self.calls.append(url)
        parts = urlsplit(url)
        token = parse_qs(parts.query).get("continue", [""])[0]
        return _Response(*self.route(parts.path, token))


def _read(route: Callable[[str, str], Answer]) -> list[Any]:
    api = FakeApi(route)
    return list(inventory.read_pod_bearing(api, inventory.Scope("shop", {"shop": {}})))


def _empty_except_pods(pods: Callable[[str], Answer]) -> Callable[[str, str], Answer]:
    def route(path: str, token: str) -> Answer:
        return pods(token) if path.endswith("/pods") else _page([])

    return route


def test_an_expired_continue_token_keeps_what_was_read_and_names_the_rest() -> None:
    def pods(token: str) -> Answer:
        if not token:
            return _page([_pod("a"), _pod("b")], token="next")
        return 410, b'{"kind":"Status","message":"The provided continue parameter is too old"}'

    read = _read(_empty_except_pods(pods))
    listed = [item.obj["metadata"]["name"] for item in read if isinstance(item, inventory.Listed)]
    (unread,) = [item for item in read if isinstance(item, inventory.Unread)]
    assert listed == ["a", "b"]
    assert (unread.resource, unread.namespace, unread.status) == ("pods", "shop", 410)
    assert "too old" in unread.message and "run the audit again" in unread.message


def test_a_kind_the_server_does_not_serve_is_said_so() -> None:
    def route(path: str, token: str) -> Answer:
        if "hardenedservices" in path:
            return 404, b'{"kind":"Status","message":"the server could not find the resource"}'
        return _page([])

    read = _read(route)
    (missing,) = read
    assert isinstance(missing, inventory.NotServed)
    assert missing.kind.kind == "HardenedService"


def test_a_server_error_or_a_body_that_is_not_json_is_unread() -> None:
    def route(path: str, token: str) -> Answer:
        if path.endswith("/deployments"):
            return 500, b"etcdserver: request timed out"
        if path.endswith("/jobs"):
            return 200, b"<html>a proxy's login page</html>"
        return _page([])

    unread = {item.kind: item.message for item in _read(route)}
    assert set(unread) == {"Deployment", "Job"}
    assert "HTTP 500: etcdserver: request timed out" in unread["Deployment"]
    assert "not JSON" in unread["Job"]


def test_objects_carry_the_api_version_and_kind_their_list_leaves_off() -> None:
    read = _read(_empty_except_pods(lambda token: _page([_pod("a")])))
    (listed,) = read
    assert isinstance(listed, inventory.Listed)
    assert (listed.obj["apiVersion"], listed.obj["kind"]) == ("v1", "Pod")
    assert listed.path == "/api/v1/namespaces/shop/pods/a"
