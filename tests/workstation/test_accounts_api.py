"""Account management over the API: who may do it, CSRF, sessions that end, the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from fracturelab.workstation.db import Database
from fracturelab.workstation.models import AuditEvent, User, WebSession
from fracturelab.workstation.users import MIN_PASSWORD_LENGTH

from .server_helpers import PASSWORDS, login, make_app

WRITES = [
    ("/api/admin/accounts", {"username": "carol", "role": "reader", "password": "carol-pass"}),
    ("/api/admin/accounts/active", {"username": "alice", "active": False}),
    ("/api/admin/accounts/password", {"username": "alice", "password": "new-alice-pw"}),
]


@pytest.fixture
def app(database: Database, people: dict[str, User], tmp_path: Path) -> FastAPI:
    return make_app(database, tmp_path / "cache")


def _login(app: FastAPI, username: str, password: str) -> TestClient:
    client = TestClient(app)
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def _login_status(app: FastAPI, username: str, password: str) -> int:
    response = TestClient(app).post("/api/login", json={"username": username, "password": password})
    return response.status_code


def _audit(database: Database, *actions: str) -> list[dict[str, Any]]:
    with database.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(actions)).order_by(AuditEvent.id)
        ).all()
        return [
            {"action": r.action, "by": r.user_id, "new": r.new, "old": r.old, "client": r.client}
            for r in rows
        ]


def _sessions(database: Database, username: str) -> int:
    with database.session() as session:
        return len(
            session.scalars(select(WebSession).join(User).where(User.username == username)).all()
        )


def test_anonymous_users_get_401(app: FastAPI) -> None:
    anonymous = TestClient(app)
    assert anonymous.get("/api/admin/accounts").status_code == 401
    for path, body in [*WRITES, ("/api/account/password", {})]:
        assert anonymous.post(path, json=body).status_code == 401, path


def test_readers_cannot_manage_accounts(app: FastAPI, database: Database) -> None:
    alice = login(app, "alice")
    assert alice.get("/api/admin/accounts").status_code == 403
    for path, body in WRITES:
        response = alice.post(path, json=body)
        assert response.status_code == 403, path
        assert "not an admin" in response.json()["detail"]
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 200  # nothing changed
    assert _login_status(app, "carol", "carol-pass") == 401
    assert _audit(database, "user_add", "user_deactivate", "password_reset") == []


def test_account_writes_need_the_csrf_token(app: FastAPI, database: Database) -> None:
    admin = login(app, "admin")
    del admin.headers["X-CSRF-Token"]
    for path, body in WRITES:
        response = admin.post(path, json=body)
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["detail"]
    alice = login(app, "alice")
    del alice.headers["X-CSRF-Token"]
    change = {"current_password": PASSWORDS["alice"], "new_password": "another-password"}
    assert alice.post("/api/account/password", json=change).status_code == 403
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 200
    assert (
        _audit(database, "user_add", "user_deactivate", "password_reset", "password_change") == []
    )


def test_admin_creates_an_account_that_can_log_in(
    app: FastAPI, database: Database, people: dict[str, User]
) -> None:
    admin = login(app, "admin")
    response = admin.post(
        "/api/admin/accounts",
        json={"username": "carol", "role": "reader", "password": "carol-pass"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["password"] is None  # chosen by the admin: not echoed
    carol = _login(app, "carol", "carol-pass")
    assert carol.get("/api/me").json()["role"] == "reader"

    # A generated password is shown once and works; an admin account can be made too.
    response = admin.post("/api/admin/accounts", json={"username": "dave", "role": "admin"})
    generated = response.json()["password"]
    assert response.status_code == 201 and len(generated) >= MIN_PASSWORD_LENGTH
    assert _login(app, "dave", generated).get("/api/admin/accounts").status_code == 200

    listed = {a["username"]: a for a in admin.get("/api/admin/accounts").json()["accounts"]}
    assert listed["carol"]["role"] == "reader" and listed["carol"]["active"]
    assert listed["carol"]["sessions"] == 1 and listed["dave"]["role"] == "admin"
    assert "password_hash" not in listed["carol"]

    rows = _audit(database, "user_add")
    assert [(r["new"]["username"], r["new"]["role"]) for r in rows] == [
        ("carol", "reader"),
        ("dave", "admin"),
    ]
    assert {r["by"] for r in rows} == {people["admin"].id}
    assert all(r["client"] == "testclient" for r in rows)
    assert not any("carol-pass" in str(r) or generated in str(r) for r in rows)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"username": "carol", "password": "short"}, "too short (5 characters); use at least 8"),
        ({"username": "Carol", "password": "carol-pass"}, "such as 'carol'"),
        (
            {"username": "carol", "role": "superuser", "password": "carol-pass"},
            "use reader or admin",
        ),
        ({"username": "alice", "password": "carol-pass"}, "'alice' already exists"),
    ],
)
def test_bad_accounts_are_refused_with_one_clear_line(
    app: FastAPI, database: Database, body: dict[str, str], fragment: str
) -> None:
    admin = login(app, "admin")
    response = admin.post("/api/admin/accounts", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]
    assert _audit(database, "user_add") == []
    with database.session() as session:
        assert sorted(session.scalars(select(User.username))) == ["admin", "alice", "bob"]


def test_deactivation_ends_sessions_and_login(
    app: FastAPI, database: Database, people: dict[str, User]
) -> None:
    alice = login(app, "alice")
    other_tab = login(app, "alice")
    assert alice.get("/api/worklist").status_code == 200
    admin = login(app, "admin")
    response = admin.post("/api/admin/accounts/active", json={"username": "alice", "active": False})
    assert response.status_code == 200 and response.json()["sessions_ended"] == 2
    assert _sessions(database, "alice") == 0
    assert alice.get("/api/me").status_code == 401
    assert other_tab.get("/api/worklist").status_code == 401
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 401
    listed = {a["username"]: a for a in admin.get("/api/admin/accounts").json()["accounts"]}
    assert listed["alice"]["active"] is False and listed["bob"]["active"] is True

    back = admin.post("/api/admin/accounts/active", json={"username": "alice", "active": True})
    assert back.status_code == 200
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 200

    # An admin cannot lock themselves out; unknown users are named.
    own = admin.post("/api/admin/accounts/active", json={"username": "admin", "active": False})
    assert own.status_code == 422 and "your own account" in own.json()["detail"]
    missing = admin.post("/api/admin/accounts/active", json={"username": "zed", "active": False})
    assert missing.status_code == 404 and "no user 'zed'" in missing.json()["detail"]

    rows = _audit(database, "user_deactivate", "user_activate")
    assert [(r["action"], r["new"], r["old"]) for r in rows] == [
        ("user_deactivate", {"username": "alice", "active": False}, {"active": True}),
        ("user_activate", {"username": "alice", "active": True}, {"active": False}),
    ]
    assert {r["by"] for r in rows} == {people["admin"].id}


def test_password_reset_ends_sessions_and_the_old_password(
    app: FastAPI, database: Database, people: dict[str, User]
) -> None:
    bob = login(app, "bob")
    admin = login(app, "admin")
    response = admin.post(
        "/api/admin/accounts/password", json={"username": "bob", "password": "new-bob-password"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "bob", "password": None, "sessions_ended": 1}
    assert bob.get("/api/me").status_code == 401
    assert _login_status(app, "bob", PASSWORDS["bob"]) == 401
    assert _login_status(app, "bob", "new-bob-password") == 200

    generated = admin.post("/api/admin/accounts/password", json={"username": "bob"}).json()
    assert _login_status(app, "bob", "new-bob-password") == 401
    assert _login_status(app, "bob", generated["password"]) == 200

    short = admin.post("/api/admin/accounts/password", json={"username": "bob", "password": "x"})
    assert short.status_code == 422 and "too short" in short.json()["detail"]
    own = admin.post("/api/admin/accounts/password", json={"username": "admin"})
    assert own.status_code == 422 and "Change password" in own.json()["detail"]
    assert admin.get("/api/me").status_code == 200  # the admin's own session lives on

    rows = _audit(database, "password_reset")
    assert [r["new"] for r in rows] == [{"username": "bob"}] * 2
    assert {r["by"] for r in rows} == {people["admin"].id}
    assert not any("new-bob-password" in str(r) for r in rows)


def test_users_change_their_own_password(
    app: FastAPI, database: Database, people: dict[str, User]
) -> None:
    alice = login(app, "alice")
    other_browser = login(app, "alice")
    wrong = alice.post(
        "/api/account/password",
        json={"current_password": "not-her-password", "new_password": "alice-new-password"},
    )
    assert wrong.status_code == 422 and "current password is wrong" in wrong.json()["detail"]
    assert _login_status(app, "alice", "alice-new-password") == 401
    short = alice.post(
        "/api/account/password",
        json={"current_password": PASSWORDS["alice"], "new_password": "short"},
    )
    assert short.status_code == 422 and "use at least 8" in short.json()["detail"]
    assert _audit(database, "password_change") == []

    done = alice.post(
        "/api/account/password",
        json={"current_password": PASSWORDS["alice"], "new_password": "alice-new-password"},
    )
    assert done.status_code == 200 and done.json()["sessions_ended"] == 1
    assert alice.get("/api/me").status_code == 200  # this browser stays logged in
    assert other_browser.get("/api/me").status_code == 401  # the other one is logged out
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 401
    assert _login_status(app, "alice", "alice-new-password") == 200
    rows = _audit(database, "password_change")
    assert [(r["by"], r["new"]) for r in rows] == [(people["alice"].id, {"username": "alice"})]


def test_guessing_the_current_password_is_throttled(app: FastAPI) -> None:
    alice = login(app, "alice")
    guess = {"current_password": "guess-0000", "new_password": "alice-new-password"}
    codes = [alice.post("/api/account/password", json=guess).status_code for _ in range(5)]
    assert codes == [422] * 5
    right = {"current_password": PASSWORDS["alice"], "new_password": "alice-new-password"}
    blocked = alice.post("/api/account/password", json=right)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 800
    assert _login_status(app, "alice", PASSWORDS["alice"]) == 200  # unchanged
    # other users are not held up
    bob = login(app, "bob")
    ok = {"current_password": PASSWORDS["bob"], "new_password": "bob-new-password"}
    assert bob.post("/api/account/password", json=ok).status_code == 200
