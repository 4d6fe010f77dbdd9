"""``fracturelab workstation user add|deactivate|activate|reset-password``: the same account
functions (and audit rows) as the admin page, with ``cli`` as the audit rows' client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select

from fracturelab.cli.main import app
from fracturelab.workstation import users
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import AuditEvent, User, WebSession
from fracturelab.workstation.server.security import start_session
from fracturelab.workstation.settings import DB_ENV
from tests.cli.helpers import one_line_error as _one_line_error
from tests.workstation.helpers import cli_ok as _ok
from tests.workstation.helpers import cli_runner as runner

ACCOUNT_ACTIONS = ("user_add", "user_activate", "user_deactivate", "password_reset")


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_HASHER", PasswordHasher(1, 64, 1, type=Type.ID))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(DB_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'labels.db'}"
    _ok("init", "--db", url)
    return url


@pytest.fixture
def store(db: str) -> Iterator[Database]:
    opened = Database(db)
    yield opened
    opened.dispose()


def _audit(store: Database) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(ACCOUNT_ACTIONS)).order_by(AuditEvent.id)
        ).all()
        return [
            {"action": r.action, "by": r.user_id, "client": r.client, "old": r.old, "new": r.new}
            for r in rows
        ]


def _account(store: Database, name: str) -> tuple[bool, int, str]:
    """Whether the account is active, its open sessions, its password hash."""
    with store.session() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        count = len(session.scalars(select(WebSession).where(WebSession.user_id == user.id)).all())
        return user.active, count, user.password_hash


def _password_works(store: Database, name: str, password: str) -> bool:
    with store.session() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        return users.verify_password(user, password)


def _log_in_twice(store: Database, name: str) -> None:
    with store.transaction() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        start_session(session, user, "127.0.0.1")
        start_session(session, user, "127.0.0.2")


def test_user_add_writes_the_same_audit_row_as_the_admin_page(db: str, store: Database) -> None:
    _ok("user", "add", "boss", "--role", "admin", "--password-stdin", "--db", db,
        stdin="boss-password\n")  # fmt: skip
    _ok("user", "add", "alice", "--db", db, stdin="alice-password\nalice-password\n")
    assert _audit(store) == [
        {"action": "user_add", "by": None, "client": "cli", "old": None,
         "new": {"username": "boss", "role": "admin"}},
        {"action": "user_add", "by": None, "client": "cli", "old": None,
         "new": {"username": "alice", "role": "reader"}},
    ]  # fmt: skip
    assert _password_works(store, "alice", "alice-password")
    # Refused accounts write nothing.
    for name, password, fragment in (
        ("alice", "another-password", "user 'alice' already exists"),
        ("Carol", "carol-password", "such as 'carol'"),
        ("carol", "short", "too short"),
    ):
        result = runner.invoke(app, ["workstation", "user", "add", name, "--password-stdin",
                                     "--db", db], input=f"{password}\n")  # fmt: skip
        _one_line_error(result, fragment)
    assert len(_audit(store)) == 2


def test_deactivate_and_activate_end_sessions_and_are_audited(db: str, store: Database) -> None:
    _ok("user", "add", "alice", "--password-stdin", "--db", db, stdin="alice-password\n")
    _log_in_twice(store, "alice")
    assert _account(store, "alice")[:2] == (True, 2)

    output = _ok("user", "deactivate", "alice", "--db", db)
    assert "Deactivated 'alice'; ended 2 browser session(s)" in output
    assert _account(store, "alice")[:2] == (False, 0)
    assert "'alice' is already deactivated; nothing changed" in _ok(
        "user", "deactivate", "alice", "--db", db
    )
    listing = _ok("user", "list", "--db", db)
    rows = [line.replace("│", " ").split() for line in listing.splitlines()]
    assert ["alice", "reader", "no"] in [row[:3] for row in rows]

    assert "Activated 'alice'" in _ok("user", "activate", "alice", "--db", db)
    assert _account(store, "alice")[0] is True
    assert "already active" in _ok("user", "activate", "alice", "--db", db)
    assert [(r["action"], r["by"], r["client"], r["new"]) for r in _audit(store)] == [
        ("user_add", None, "cli", {"username": "alice", "role": "reader"}),
        ("user_deactivate", None, "cli", {"username": "alice", "active": False}),
        ("user_activate", None, "cli", {"username": "alice", "active": True}),
    ]

    result = runner.invoke(app, ["workstation", "user", "deactivate", "alcie", "--db", db])
    _one_line_error(result, "no user 'alcie'", "did you mean 'alice'")


def test_reset_password_sets_or_generates_one_and_ends_sessions(db: str, store: Database) -> None:
    _ok("user", "add", "alice", "--password-stdin", "--db", db, stdin="alice-password\n")
    _log_in_twice(store, "alice")

    output = _ok("user", "reset-password", "alice", "--password-stdin", "--db", db,
                 stdin="new-alice-password\n")  # fmt: skip
    assert "New password for 'alice'; ended 2 browser session(s)" in output
    assert "shown only now" not in output
    assert _password_works(store, "alice", "new-alice-password")
    assert not _password_works(store, "alice", "alice-password")
    assert _account(store, "alice")[1] == 0

    output = _ok("user", "reset-password", "alice", "--generate", "--db", db)
    generated = output.split("Password (shown only now): ")[1].strip()
    assert len(generated) >= users.MIN_PASSWORD_LENGTH
    assert _password_works(store, "alice", generated)

    _ok("user", "reset-password", "alice", "--db", db, stdin="typed-password\ntyped-password\n")
    assert _password_works(store, "alice", "typed-password")

    rows = _audit(store)
    assert [(r["action"], r["by"], r["client"]) for r in rows] == [
        ("user_add", None, "cli"), *[("password_reset", None, "cli")] * 3
    ]  # fmt: skip
    assert not any(secret in str(rows) for secret in (generated, "new-alice-password"))


def test_reset_password_refusals_change_nothing(db: str, store: Database) -> None:
    _ok("user", "add", "alice", "--password-stdin", "--db", db, stdin="alice-password\n")
    hash_before = _account(store, "alice")[2]
    result = runner.invoke(app, ["workstation", "user", "reset-password", "alice",
                                 "--password-stdin", "--db", db], input="short\n")  # fmt: skip
    _one_line_error(result, "too short")
    result = runner.invoke(app, ["workstation", "user", "reset-password", "alice",
                                 "--password-stdin", "--generate", "--db", db])  # fmt: skip
    _one_line_error(result, "--password-stdin or --generate, not both")
    result = runner.invoke(app, ["workstation", "user", "reset-password", "nobody", "--db", db],
                           input="some-password\nsome-password\n")  # fmt: skip
    _one_line_error(result, "no user 'nobody'")
    assert "Password" not in result.output  # refused before the prompt
    assert _account(store, "alice")[2] == hash_before
    assert [r["action"] for r in _audit(store)] == ["user_add"]
