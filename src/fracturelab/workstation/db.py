"""Connecting to the workstation database and bringing its schema up to date.

SQLite (one file, the embedded default) and PostgreSQL are supported. SQLite connections run
with foreign keys on, the write-ahead log (readers never block the writer) and a busy timeout,
so several server workers and command-line tools can share one file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from fracturelab.errors import InputError
from fracturelab.workstation.settings import WorkstationSettings

__all__ = [
    "MIGRATIONS",
    "VERSION_TABLE",
    "Database",
    "UpgradeResult",
    "create_engine_for",
    "head_revision",
    "init_database",
]

#: Folder of the Alembic environment, inside the package (works from an installed wheel).
MIGRATIONS = Path(__file__).resolve().with_name("migrations")
#: Alembic's version table; its own name, so a shared PostgreSQL database has no clash.
VERSION_TABLE = "workstation_alembic_version"
#: How long an SQLite writer waits for another writer before giving up, milliseconds.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine_for(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get foreign keys, WAL and a busy timeout."""
    # Pool as large as the web server's thread pool (40), so waiting requests never queue
    # for a connection while holding another.
    engine = create_engine(
        url, pool_pre_ping=not url.startswith("sqlite"), pool_size=10, max_overflow=30
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


@dataclass(frozen=True)
class UpgradeResult:
    """What :meth:`Database.upgrade` did.

    Attributes:
        before: Schema revision found (``None`` for a new, empty database).
        after: Revision now (the newest this fracturelab knows).

    """

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        """Whether any migration ran."""
        return self.before != self.after


class Database:
    """One workstation database: an engine, a session factory and its schema revision.

    Args:
        settings: Validated settings, or a URL (checked by
            :meth:`WorkstationSettings.resolve`).

    """

    def __init__(self, settings: WorkstationSettings | str) -> None:
        if isinstance(settings, str):
            settings = WorkstationSettings.resolve(settings)
        self.settings = settings
        self.engine = create_engine_for(settings.database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.settings.database_url).render_as_string(hide_password=True)

    def session(self) -> Session:
        """A new session; the caller commits or rolls back, and closes it."""
        return self.sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in a transaction: committed if the block succeeds, rolled back if not."""
        with self.sessions.begin() as session:
            yield session

    def revision(self) -> str | None:
        """The schema revision of the database, ``None`` if it holds no workstation schema.

        Raises:
            InputError: If the database cannot be reached, or holds other tables and no
                workstation schema.

        """
        path = self._sqlite_file()
        if path is not None and not path.exists():
            return None  # never create an empty file just to find out it is not initialised
        with self._connect() as connection:
            return self._revision(connection)

    def check(self) -> None:
        """Make sure the schema is the one this fracturelab expects.

        Raises:
            InputError: If the database is not initialised or needs an upgrade.

        """
        found = self.revision()
        if found == head_revision():
            return
        command = f"fracturelab workstation init --db {self.display_url}"
        if found is None:
            raise InputError(f"database {self.display_url} is not initialised; run {command}")
        raise InputError(
            f"database {self.display_url} is at schema revision {found}, older than "
            f"{head_revision()}; back it up, then run {command} to upgrade it"
        )

    def upgrade(self) -> UpgradeResult:
        """Create the tables of a new database or migrate an older one to the newest schema.

        Raises:
            InputError: If the database cannot be reached, is not a workstation database,
                or was written by a newer fracturelab.

        """
        self._create_private_file()
        with self._connect() as connection:
            before = self._revision(connection)
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        return UpgradeResult(before, head_revision())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _sqlite_file(self) -> Path | None:
        url = make_url(self.settings.database_url)
        if url.get_backend_name() != "sqlite" or not url.database:
            return None
        return Path(url.database)

    def _create_private_file(self) -> None:
        """Create a new SQLite file readable by its owner only (0600).

        SQLite gives the ``-wal`` and ``-shm`` files the permissions of the database file, so
        they are private too. An existing file keeps its permissions.
        """
        path = self._sqlite_file()
        if path is None or path.exists():
            return
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as error:
            raise InputError(
                f"cannot create database {self.display_url} ({error.strerror}); give a "
                "writable folder"
            ) from None

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            connection = self.engine.connect()
        except DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise InputError(
                f"cannot open database {self.display_url} ({reason}); check the URL, "
                "the server and the credentials"
            ) from None
        try:
            yield connection
        finally:
            connection.close()

    def _revision(self, connection: Connection) -> str | None:
        try:
            tables = set(inspect(connection).get_table_names())
        except DBAPIError as error:
            reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
            raise InputError(
                f"database {self.display_url} cannot be read ({reason}); give a fracturelab "
                "workstation database or a new file"
            ) from None
        if VERSION_TABLE not in tables:
            if tables:
                shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
                raise InputError(
                    f"database {self.display_url} holds other tables ({shown}) and is not a "
                    "fracturelab workstation database; give a new file or an empty database"
                )
            return None
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        found = context.get_current_revision()
        if found is not None:
            scripts = ScriptDirectory.from_config(_alembic_config())
            if found not in {script.revision for script in scripts.walk_revisions()}:
                raise InputError(
                    f"database {self.display_url} has schema revision {found}, which this "
                    "fracturelab does not know; it was written by a newer version, upgrade "
                    "fracturelab"
                )
        return found


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest schema revision this fracturelab knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def init_database(url: str | WorkstationSettings) -> UpgradeResult:
    """Create or upgrade the workstation database at ``url`` (idempotent).

    Args:
        url: Database URL (``sqlite:///labels.db``, ``postgresql://...``) or settings.

    Raises:
        InputError: If the URL is bad, the database unreachable or not a workstation database.

    """
    database = Database(url)
    try:
        return database.upgrade()
    finally:
        database.dispose()
