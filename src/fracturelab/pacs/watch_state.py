"""Where ``batch watch`` is in an Orthanc change feed, kept in the results database.

One row per Orthanc server (its URL) in the table ``pacs_watch_state``: the sequence number of
the last change fully handled. The watcher reads it when it starts and writes it after each
page of changes, so a restart resumes where the last run stopped; together with the results
database's one row per series and algorithm, nothing is processed twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from fracturelab.batch.store import database_url
from fracturelab.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["WatchState"]

_TABLE = "pacs_watch_state"


class WatchState:
    """The change pointers of ``batch watch`` in the results database.

    Args:
        results: The results database: a SQLAlchemy URL or a SQLite file path.

    Raises:
        InputError: If the database cannot be opened.

    """

    def __init__(self, results: str) -> None:
        import sqlalchemy as sa

        self._metadata = sa.MetaData()
        self._table = sa.Table(
            _TABLE,
            self._metadata,
            sa.Column("orthanc_url", sa.String(512), primary_key=True),
            sa.Column("last_change", sa.BigInteger, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
        )
        url = database_url(results)
        try:
            self.engine: Engine = sa.create_engine(url)
            self._metadata.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, OSError) as error:
            first = str(error).splitlines()[0]
            raise InputError(
                f"--results {results}: cannot open the results database ({first}); "
                "check the path or URL and that it is writable"
            ) from None

    def last_change(self, orthanc_url: str) -> int:
        """The last change handled for ``orthanc_url`` (0 before the first run)."""
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(self._table.c.last_change).where(self._table.c.orthanc_url == orthanc_url)
            ).scalar()
        return int(value) if value is not None else 0

    def set_last_change(self, orthanc_url: str, seq: int) -> None:
        """Record ``seq`` as the last change handled for ``orthanc_url``."""
        import sqlalchemy as sa

        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        with self.engine.begin() as connection:
            updated = connection.execute(
                sa.update(self._table)
                .where(self._table.c.orthanc_url == orthanc_url)
                .values(last_change=seq, updated_at=now)
            ).rowcount
            if not updated:
                connection.execute(
                    sa.insert(self._table).values(
                        orthanc_url=orthanc_url, last_change=seq, updated_at=now
                    )
                )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
