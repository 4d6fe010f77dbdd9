"""The results database: one row per scan, algorithm version and model hash.

SQLAlchemy Core on SQLite (a plain path or ``sqlite:///file.db``) or PostgreSQL
(``postgresql+psycopg://...``). It is the source of truth of a batch run: which scans exist,
their state, attempts, timings, errors and results. Tables are prefixed ``batch_`` so the
workstation or other tools can share a PostgreSQL database. The schema version is stored in
``batch_meta``; a database of another version is refused with one line.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from fracturelab.batch.record import STATES, ScanRecord
from fracturelab.batch.tables import SCHEMA_VERSION, metadata
from fracturelab.batch.tables import meta_table as _meta
from fracturelab.batch.tables import runners_table as _runners
from fracturelab.batch.tables import scans_table as _scans
from fracturelab.errors import InputError

__all__ = ["SCHEMA_VERSION", "ResultsStore", "ScanIdentity", "database_url"]


class ScanIdentity:
    """What names a scan in the database, and what is known of it before it is read."""

    def __init__(
        self,
        key: str,
        source: str,
        *,
        series_uid: str | None = None,
        study_uid: str | None = None,
        patient_id: str | None = None,
        case_id: str | None = None,
    ) -> None:
        self.key = key
        self.source = source
        self.series_uid = series_uid
        self.study_uid = study_uid
        self.patient_id = patient_id
        self.case_id = case_id


def database_url(url: str) -> str:
    """The SQLAlchemy URL of ``url``: a plain path becomes ``sqlite:///<absolute path>``."""
    if "://" in url:
        return url
    return f"sqlite:///{Path(url).expanduser().resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _when(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


class ResultsStore:
    """Open (or create) a results database.

    Args:
        url: ``sqlite:///results.db``, a plain path (SQLite), or a PostgreSQL URL.

    Raises:
        InputError: The database cannot be opened or created, is not a database, or holds
            batch tables of another schema version.

    """

    def __init__(self, url: str) -> None:
        self.url = database_url(url)
        self._shown = url
        self.engine = self._connect()
        self.owner: str | None = None

    @classmethod
    def existing(cls, url: str) -> ResultsStore:
        """Open a results database that ``batch run`` wrote, to read it; never create one.

        Raises:
            InputError: The file does not exist, or the database holds no results tables
                (e.g. a workstation database given by mistake: nothing is added to it).

        """
        full = database_url(url)
        if full.startswith("sqlite:///") and not Path(full.removeprefix("sqlite:///")).is_file():
            raise InputError(
                f"--results {url}: no such results database (no such file); give the file "
                "that `fracturelab batch run --results` wrote"
            )
        try:
            engine = create_engine(full)
            tables = set(inspect(engine).get_table_names())
            engine.dispose()
        except Exception as error:  # bad URL, missing driver, not a database: many types
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise InputError(
                f"--results {url}: cannot be opened as a results database ({reason}); give "
                "the file that `fracturelab batch run --results` wrote"
            ) from None
        if _meta.name not in tables:
            raise InputError(
                f"--results {url}: not a results database of `fracturelab batch run` (no "
                f"{_meta.name} table); give the file that `fracturelab batch run --results` wrote"
            )
        return cls(url)

    # ------------------------------------------------------------------ opening
    def _connect(self) -> Engine:
        if self.url.startswith("sqlite:///"):
            file = Path(self.url.removeprefix("sqlite:///"))
            if not file.parent.is_dir():
                raise InputError(
                    f"--results {self._shown}: folder {file.parent} does not exist; create it"
                )
        try:
            engine = create_engine(self.url, pool_pre_ping=not self.url.startswith("sqlite"))
        except Exception as error:  # bad URL, missing driver: SQLAlchemy raises many types
            raise InputError(f"--results {self._shown}: not a database URL ({error})") from None
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.begin() as connection:
                metadata.create_all(connection)
                version = connection.execute(
                    select(_meta.c.value).where(_meta.c.name == "schema_version")
                ).scalar()
                if version is None:
                    connection.execute(
                        _meta.insert().values(name="schema_version", value=SCHEMA_VERSION)
                    )
        except DBAPIError as error:
            reason = str(error.orig).splitlines()[0] if error.orig else str(error)
            raise InputError(
                f"--results {self._shown}: cannot be opened as a results database ({reason}); "
                "give a new file or an SQLite/PostgreSQL database"
            ) from None
        if version is not None and version != SCHEMA_VERSION:
            engine.dispose()
            raise InputError(
                f"--results {self._shown}: results database of schema version {version}, this "
                f"fracturelab reads version {SCHEMA_VERSION}; use a new --results file or the "
                "fracturelab that wrote it"
            )
        return engine

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def dispose(self) -> None:
        """Close the connections."""
        self.engine.dispose()

    # ------------------------------------------------------------------ key/value
    def get_value(self, name: str) -> str | None:
        """A stored value (e.g. the last Orthanc change processed), ``None`` if unset."""
        with self._begin() as connection:
            value = connection.execute(select(_meta.c.value).where(_meta.c.name == name)).scalar()
        return str(value) if value is not None else None

    def set_value(self, name: str, value: str) -> None:
        """Store a value under ``name`` (replacing the previous one)."""
        with self._begin() as connection:
            updated = connection.execute(
                _meta.update().where(_meta.c.name == name).values(value=value)
            ).rowcount
            if not updated:
                connection.execute(_meta.insert().values(name=name, value=value))

    # ------------------------------------------------------------------ reading
    def records(self, state: str | None = None) -> list[ScanRecord]:
        """All rows (of one state), in the order they were added."""
        query = select(_scans).order_by(_scans.c.id)
        if state is not None:
            if state not in STATES:
                raise InputError(f"state {state!r} is not valid; allowed: {', '.join(STATES)}")
            query = query.where(_scans.c.state == state)
        with self._begin() as connection:
            rows = connection.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def get(
        self, key: str, algorithm_version: str | None = None, model_hash: str | None = None
    ) -> ScanRecord | None:
        """The row of a scan: of this version and model when given, else the latest one."""
        query = select(_scans).where(_scans.c.key == key)
        if algorithm_version is not None:
            query = query.where(_scans.c.algorithm_version == algorithm_version)
            query = query.where(_scans.c.model_hash == (model_hash or ""))
        query = query.order_by(_scans.c.updated_at.desc(), _scans.c.id.desc()).limit(1)
        with self._begin() as connection:
            row = connection.execute(query).mappings().first()
        return self._record(row) if row is not None else None

    def counts(self) -> dict[str, int]:
        """Rows per state (every state, zeros included)."""
        query = select(_scans.c.state, func.count()).group_by(_scans.c.state)
        with self._begin() as connection:
            found = {str(s): int(n) for s, n in connection.execute(query).all()}
        return {state: found.get(state, 0) for state in STATES}

    @staticmethod
    def _record(row: Any) -> ScanRecord:
        return ScanRecord(
            key=row["key"],
            series_uid=row["series_uid"],
            source=row["source"],
            state=row["state"],
            attempts=int(row["attempts"]),
            error=row["error"],
            algorithm_version=row["algorithm_version"],
            model_hash=row["model_hash"] or None,
            result=json.loads(row["result"]) if row["result"] else None,
            started_at=_when(row["started_at"]),
            finished_at=_when(row["finished_at"]),
            elapsed_s=row["elapsed_s"],
            case_id=row["case_id"],
            study_uid=row["study_uid"],
            patient_id=row["patient_id"],
            out_dir=row["out_dir"],
        )

    # ------------------------------------------------------------------ runners
    def register_runner(self) -> str:
        """Record this process as a runner; returns its owner id (``host:pid:start``)."""
        now = time.time()
        host = socket.gethostname()
        self.owner = f"{host}:{os.getpid()}:{now:.6f}"
        with self._begin() as connection:
            connection.execute(
                _runners.insert().values(
                    owner=self.owner, host=host, pid=os.getpid(), started_at=now, heartbeat_at=now
                )
            )
        return self.owner

    def heartbeat(self) -> None:
        """Tell other runners this one is alive."""
        with self._begin() as connection:
            connection.execute(
                _runners.update()
                .where(_runners.c.owner == self.owner)
                .values(heartbeat_at=time.time())
            )

    def finish_runner(self) -> None:
        """Record that this runner ended."""
        with self._begin() as connection:
            connection.execute(
                _runners.update()
                .where(_runners.c.owner == self.owner)
                .values(finished_at=time.time(), heartbeat_at=time.time())
            )

    def reclaim(self, lease_s: float) -> int:
        """Put back to ``pending`` the ``running`` rows of runners that are gone.

        A runner is gone when it recorded its end, when it ran on this host and its process
        no longer exists, or when its last heartbeat is older than ``lease_s``.

        Returns:
            The number of rows taken back.

        """
        host = socket.gethostname()
        now = time.time()
        with self._begin() as connection:
            owners = {
                str(o)
                for (o,) in connection.execute(
                    select(_scans.c.owner).where(_scans.c.state == "running").distinct()
                ).all()
            }
            runners = {
                row["owner"]: row
                for row in connection.execute(
                    select(_runners).where(_runners.c.owner.in_(owners))
                ).mappings()
            }
            gone = []
            for owner in owners:
                runner = runners.get(owner)
                if owner == self.owner:
                    continue
                if (
                    runner is None
                    or runner["finished_at"] is not None
                    or (runner["host"] == host and not _alive(int(runner["pid"])))
                    or now - float(runner["heartbeat_at"]) > lease_s
                ):
                    gone.append(owner)
            if not gone:
                return 0
            return int(
                connection.execute(
                    _scans.update()
                    .where(_scans.c.state == "running", _scans.c.owner.in_(gone))
                    .values(state="pending", owner=None, updated_at=now)
                ).rowcount
            )

    # ------------------------------------------------------------------ writing
    def add(
        self,
        identity: ScanIdentity,
        version: str,
        model_hash: str | None,
        *,
        skip_reason: str | None = None,
    ) -> ScanRecord:
        """Add a scan as ``pending`` (or ``skipped`` with its reason) unless it has a row.

        A row already there keeps its state, except that a ``skipped`` row follows the new
        decision (limits may have changed) and a ``pending``/``skipped`` row takes the new
        source. Returns the row as it now stands.
        """
        now = time.time()
        state = "skipped" if skip_reason else "pending"
        values = {
            "key": identity.key,
            "algorithm_version": version,
            "model_hash": model_hash or "",
            "series_uid": identity.series_uid,
            "study_uid": identity.study_uid,
            "patient_id": identity.patient_id,
            "case_id": identity.case_id,
            "source": identity.source,
        }
        where = (
            (_scans.c.key == identity.key)
            & (_scans.c.algorithm_version == version)
            & (_scans.c.model_hash == (model_hash or ""))
        )
        with self._begin() as connection:
            current = connection.execute(select(_scans.c.state).where(where)).scalar()
            if current is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            _scans.insert().values(
                                **values,
                                state=state,
                                attempts=0,
                                error=skip_reason,
                                updated_at=now,
                            )
                        )
                except IntegrityError:  # another runner added it meanwhile
                    pass
            elif current in ("skipped", "pending"):
                connection.execute(
                    _scans.update()
                    .where(where, _scans.c.state.in_(("skipped", "pending")))
                    .values(**values, state=state, error=skip_reason, updated_at=now)
                )
            row = connection.execute(select(_scans).where(where)).mappings().one()
        return self._record(row)

    def requeue(
        self, keys: Sequence[str], version: str, model_hash: str | None, states: Sequence[str]
    ) -> None:
        """Put the rows of ``keys`` in ``states`` back to ``pending`` (quarantined: attempts 0)."""
        with self._begin() as connection:
            for key in keys:
                where = (
                    (_scans.c.key == key)
                    & (_scans.c.algorithm_version == version)
                    & (_scans.c.model_hash == (model_hash or ""))
                    & _scans.c.state.in_(tuple(states))
                )
                values: dict[str, Any] = {"state": "pending", "updated_at": time.time()}
                if "quarantined" in states:
                    values["attempts"] = 0
                connection.execute(_scans.update().where(where).values(**values))

    def claim(self, key: str, version: str, model_hash: str | None) -> int | None:
        """Mark a ``pending`` scan ``running`` for this runner, counting the attempt.

        Returns:
            The attempt number, or ``None`` when the scan is not pending (another runner took
            it, or it is done).

        """
        now = time.time()
        where = (
            (_scans.c.key == key)
            & (_scans.c.algorithm_version == version)
            & (_scans.c.model_hash == (model_hash or ""))
        )
        with self._begin() as connection:
            taken = connection.execute(
                _scans.update()
                .where(where, _scans.c.state == "pending")
                .values(
                    state="running",
                    owner=self.owner,
                    attempts=_scans.c.attempts + 1,
                    started_at=now,
                    finished_at=None,
                    updated_at=now,
                )
            ).rowcount
            if not taken:
                return None
            return int(connection.execute(select(_scans.c.attempts).where(where)).scalar_one())

    def finish(
        self,
        key: str,
        version: str,
        model_hash: str | None,
        state: str,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
        elapsed_s: float | None = None,
        out_dir: str | None = None,
    ) -> None:
        """End this runner's attempt at a scan, with its error, result and timing.

        ``state`` is ``done``, ``failed``, ``pending`` (to retry) or ``quarantined``.
        """
        now = time.time()
        where = (
            (_scans.c.key == key)
            & (_scans.c.algorithm_version == version)
            & (_scans.c.model_hash == (model_hash or ""))
            & (_scans.c.owner == self.owner)
            & (_scans.c.state == "running")
        )
        with self._begin() as connection:
            connection.execute(
                _scans.update()
                .where(where)
                .values(
                    state=state,
                    error=error,
                    result=json.dumps(result) if result is not None else None,
                    elapsed_s=elapsed_s,
                    out_dir=out_dir,
                    owner=None if state != "running" else self.owner,
                    finished_at=now,
                    updated_at=now,
                )
            )


def _alive(pid: int) -> bool:
    """Whether a process of this host exists (a zombie counts as gone only once reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
