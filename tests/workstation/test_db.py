from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DatabaseError

from fracturelab.errors import InputError
from fracturelab.workstation.db import VERSION_TABLE, Database, head_revision, init_database
from fracturelab.workstation.models import AuditEvent, Base

TABLES = {"users", "cases", "assignments", "readings", "answers", "audit_events"}


def test_migrations_create_every_table_and_are_idempotent(db_url: str) -> None:
    first = init_database(db_url)
    assert first.before is None and first.after == head_revision() and first.changed
    second = init_database(db_url)
    assert second.before == head_revision() and not second.changed
    database = Database(db_url)
    assert TABLES | {VERSION_TABLE} <= set(inspect(database.engine).get_table_names())
    database.check()
    database.dispose()


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    database.dispose()


def test_unknown_revision_is_refused_and_empty_version_table_is_initialised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    init_database(url)
    database = Database(url)
    with database.engine.begin() as connection:  # pretend an older schema
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = 'older'"))
    with pytest.raises(InputError, match="does not know"):
        database.check()
    with database.engine.begin() as connection:
        connection.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    # an empty version table is "no revision": upgrading from scratch must not clash
    with database.engine.begin() as connection:
        for table in (
            "web_sessions", "app_settings", "audit_events", "answers", "readings",
            "assignments", "cases", "users",
        ):  # fmt: skip
            connection.execute(text(f"DROP TABLE {table}"))
    assert database.revision() is None
    assert init_database(url).before is None
    database.check()
    database.dispose()


def test_uninitialised_database_says_to_run_init(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(InputError, match="not initialised; run fracturelab workstation init"):
        database.check()
    database.dispose()


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE patients (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(InputError, match=r"holds other tables \(patients\)"):
        init_database(f"sqlite:///{path}")


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("this is not sqlite, " * 200)
    with pytest.raises(InputError, match="cannot"):
        init_database(f"sqlite:///{path}")


def test_audit_table_is_append_only_in_the_database(database: Database) -> None:
    with database.transaction() as session:
        session.add(AuditEvent(action="test"))
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as c:
            c.execute(text(statement))
    with database.transaction() as session:
        event = session.query(AuditEvent).one()
        event.action = "changed"
        with pytest.raises(PermissionError, match="append-only"):
            session.flush()


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    import os
    import stat

    path = tmp_path / "labels.db"
    previous = os.umask(0o022)  # the usual umask: files readable by everyone unless private
    try:
        init_database(f"sqlite:///{path}")
    finally:
        os.umask(previous)
    database = Database(f"sqlite:///{path}")
    with database.engine.connect() as connection:  # open: the -wal and -shm files exist
        connection.exec_driver_sql("CREATE TABLE probe (x INTEGER)")
        connection.commit()
        files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    database.dispose()
    assert {"labels.db", "labels.db-wal", "labels.db-shm"} <= set(files)
    assert all(mode == 0o600 for mode in files.values()), {k: oct(v) for k, v in files.items()}


def test_checking_a_missing_sqlite_file_leaves_nothing_behind(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'labels.db'}")
    with pytest.raises(InputError, match="not initialised"):
        database.check()
    assert database.revision() is None
    database.dispose()
    assert list(tmp_path.iterdir()) == []
