"""Workstation fixtures: a fresh database on SQLite, and on PostgreSQL when one is given.

Set ``FRACTURELAB_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@localhost/fl_test``) to
run the database tests on PostgreSQL too; the workstation's tables there are dropped and
recreated for every test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from fracturelab.workstation.db import Database, init_database
from fracturelab.workstation.models import Case, User
from fracturelab.workstation.users import add_user

POSTGRES_ENV = "FRACTURELAB_TEST_POSTGRES_URL"
_TABLES = "web_sessions, app_settings, audit_events, answers, readings, assignments, cases, users, workstation_alembic_version"


def _reset_postgres(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {_TABLES} CASCADE"))
        connection.execute(text("DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE"))
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: an SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.db'}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} to run on PostgreSQL")
    _reset_postgres(url)
    return url


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """An initialised workstation database."""
    init_database(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny costs, so tests that only need users do not spend 0.1 s a hash."""
    from argon2 import PasswordHasher, Type

    from fracturelab.workstation import users

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID)
    monkeypatch.setattr(users, "_HASHER", cheap)


@pytest.fixture
def people(database: Database, fast_hashes: None) -> dict[str, User]:
    """An admin and two readers."""
    with database.transaction() as session:
        return {
            "admin": add_user(session, "admin", "admin-password", "admin"),
            "alice": add_user(session, "alice", "alice-password", "reader"),
            "bob": add_user(session, "bob", "bob-password1", "reader"),
        }


@pytest.fixture
def spine_case(database: Database) -> Case:
    """A spine case pointing at files that need not exist (nothing reads them here)."""
    with database.transaction() as session:
        case = Case(
            task="spine", name="case1", image_path="/data/ct/case1.nii.gz",
            labels_path="/data/masks/case1.nii.gz",
        )  # fmt: skip
        session.add(case)
    return case
