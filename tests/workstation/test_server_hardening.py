"""Probes an attacker would send: huge ids, NaN, null bytes, big bodies, foreign hosts.

Every answer, errors and server failures included, must be a deliberate one (4xx, or a JSON
500 that says nothing of the request) carrying the security headers.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fracturelab.workstation.db import Database
from fracturelab.workstation.models import User
from fracturelab.workstation.server.app import create_app
from fracturelab.workstation.server.middleware import CSP, HSTS

from .server_helpers import PASSWORDS, live_server, login, make_app

HUGE_ID = 2**64  # one beyond what SQLite and PostgreSQL integers hold
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")


@pytest.fixture
def app(
    database: Database, people: dict[str, User], cases: dict[str, int], tmp_path: Path
) -> FastAPI:
    return make_app(database, tmp_path / "cache")


def _secured(response: httpx.Response) -> bool:
    headers = response.headers
    return (
        headers.get("content-security-policy") == CSP
        and headers.get("x-content-type-options") == "nosniff"
        and headers.get("x-frame-options") == "DENY"
    )


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route of the app (its OpenAPI schema lists them all)."""
    schema = app.openapi()["paths"]
    return [(method.upper(), path) for path, ops in schema.items() for method in sorted(ops)]


def _fill(template: str, id_value: int) -> str:
    return _PARAM.sub(lambda m: str(id_value) if m[1].endswith("_id") else "L1", template)


def _routes_with_ids(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route with an id in its path, the id set to ``HUGE_ID``."""
    return [
        (method, _fill(template, HUGE_ID))
        for method, template in _routes(app)
        if any(name.endswith("_id") for name in _PARAM.findall(template))
    ]


def test_ids_beyond_64_bits_are_refused_on_every_route(app: FastAPI) -> None:
    alice = login(app, "alice", raise_server_exceptions=False)
    admin = login(app, "admin", raise_server_exceptions=False)
    calls = _routes_with_ids(app)
    assert len(calls) >= 8  # cases, images, labels, answers, time, status, page, readings
    for method, path in calls:
        for client in (alice, admin):
            response = client.request(method, path, json={"value": {}, "seconds": 1, "done": 1})
            allowed = {422, 403} if client is alice and "/admin/" in path else {422}
            assert response.status_code in allowed, (method, path, response.status_code)
            assert _secured(response), (method, path)
    for path, body in (
        ("/api/admin/assign", {"case_ids": [HUGE_ID], "readers": ["bob"]}),
        ("/api/admin/reference", {"reading_id": HUGE_ID}),
    ):
        response = admin.post(path, json=body)
        assert response.status_code == 422, (path, response.text)


def test_nan_and_infinity_in_any_json_body_are_refused(app: FastAPI) -> None:
    alice = login(app, "alice", raise_server_exceptions=False)
    admin = login(app, "admin", raise_server_exceptions=False)
    writes = [(m, path) for m, path in _routes(app) if m in {"POST", "PUT", "PATCH", "DELETE"}]
    assert len(writes) >= 8
    for method, template in writes:
        path = _fill(template, 1)
        for constant in ("NaN", "Infinity", "-Infinity"):
            body = f'{{"value": {{"genant_grade": {constant}}}, "seconds": {constant}}}'
            for client in (alice, admin):
                response = client.request(
                    method, path, content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 422, (method, path, response.status_code)
                assert constant.lstrip("-") in response.json()["detail"]
                assert _secured(response)


def test_validation_errors_never_echo_the_request(app: FastAPI) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    secret = "correct horse battery staple"
    body = f'{{"username": "alice", "password": "{secret}"}}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = client.post("/api/login", content=body, headers={"Content-Type": content_type})
        assert response.status_code in (415, 422), response.text
        assert secret not in response.text and "horse" not in response.text
    short = client.post("/api/login", json={"username": "alice", "password": "", "x": secret})
    assert short.status_code == 422 and secret not in short.text
    assert short.json()["detail"][0]["loc"] == ["body", "password"]  # says which field


def test_a_null_byte_in_a_static_path_is_a_404(app: FastAPI) -> None:
    alice = login(app, "alice", raise_server_exceptions=False)
    for path in ("/static/login%00.js", "/static/vendor/%00", "/static/style.css%00.png"):
        response = alice.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert _secured(response)


def test_server_errors_are_json_with_the_security_headers(app: FastAPI) -> None:
    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = TestClient(app, raise_server_exceptions=False).get("/api/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "secret" not in response.text and "detail" in response.json()
    assert _secured(response) and response.headers["cache-control"] == "no-store"


def test_large_bodies_are_refused_before_the_login_check(app: FastAPI) -> None:
    anonymous = TestClient(app, raise_server_exceptions=False)
    big = b'{"value": {"genant_grade": 1}, "pad": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    response = anonymous.put(
        "/api/cases/1/answers/L1", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413 and _secured(response)
    lied = anonymous.post("/api/login", content=b"{}", headers={"Content-Length": "99999999"})
    assert lied.status_code == 413


def test_chunked_bodies_are_capped_too(app: FastAPI) -> None:
    sent = []

    def chunks():  # no Content-Length: the server only learns the size while reading
        for _ in range(64):
            sent.append(1)
            yield b"x" * 65536

    with live_server(app) as base:
        response = httpx.post(
            f"{base}/api/login", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 413 and _secured(response)


def test_hsts_only_with_secure_cookies(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    secure = TestClient(create_app(database, cache_dir=tmp_path, secure_cookies=True))
    plain = TestClient(create_app(database, cache_dir=tmp_path))
    for path in ("/login", "/api/me", "/static/nothing"):
        assert secure.get(path).headers["strict-transport-security"] == HSTS
        assert "strict-transport-security" not in plain.get(path).headers


def test_only_the_allowed_hosts_are_answered(
    database: Database, people: dict[str, User], tmp_path: Path
) -> None:
    app = create_app(database, cache_dir=tmp_path, allowed_hosts=["127.0.0.1", "localhost"])
    client = TestClient(app)
    foreign = client.get("/login", headers={"Host": "evil.invalid"})
    assert foreign.status_code == 400 and _secured(foreign)
    assert client.get("/login", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/login", headers={"Host": "localhost"}).status_code == 200
    response = client.post(
        "/api/login",
        json={"username": "alice", "password": PASSWORDS["alice"]},
        headers={"Host": "attacker.example"},
    )
    assert response.status_code == 400


def test_the_session_cookie_ends_with_the_browser(app: FastAPI) -> None:
    response = TestClient(app).post(
        "/api/login", json={"username": "alice", "password": PASSWORDS["alice"]}
    )
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 200
    assert "max-age" not in cookie and "expires" not in cookie
