"""Where the workstation keeps its data: the database URL, from an argument or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fracturelab.checks import closest_match
from fracturelab.errors import InputError

__all__ = ["DB_ENV", "SCHEMES", "WorkstationSettings"]

#: Environment variable read when no ``--db`` is given.
DB_ENV = "FRACTURELAB_DB"
#: URL schemes the workstation accepts; ``postgresql`` means the psycopg 3 driver.
SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
_EXAMPLE = "--db sqlite:///labels.db"


@dataclass(frozen=True)
class WorkstationSettings:
    """Validated settings of a workstation.

    Attributes:
        database_url: SQLAlchemy URL; ``postgresql://`` is rewritten to
            ``postgresql+psycopg://`` (psycopg 3, the ``postgres`` extra).

    """

    database_url: str

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is an SQLite file."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def resolve(cls, db: str | None = None) -> WorkstationSettings:
        """Take the database URL from ``db``, else from ``$FRACTURELAB_DB``, and check it.

        Args:
            db: URL such as ``sqlite:///labels.db`` or ``postgresql://user@host/labels``.

        Raises:
            InputError: If no URL is given anywhere, or the URL is not usable.

        """
        url = (db or "").strip() or os.environ.get(DB_ENV, "").strip()
        if not url:
            raise InputError(
                f"no database given; pass {_EXAMPLE} (or a postgresql:// URL) or set {DB_ENV}"
            )
        source = "--db" if (db or "").strip() else DB_ENV
        return cls(_check_url(url, source))


def _check_url(url: str, source: str) -> str:
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise InputError(
            f"{source} {url!r} is not a database URL; write it like sqlite:///labels.db "
            "or postgresql://user@host/dbname"
        )
    scheme = scheme.lower()
    if scheme == "postgres":
        scheme = "postgresql"
    if scheme not in SCHEMES:
        close = closest_match(scheme, SCHEMES, cutoff=0.5)
        hint = f"did you mean {close}://? " if close else ""
        raise InputError(
            f"{source} {url!r} has the unsupported scheme {scheme!r}; {hint}"
            f"use one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    if scheme == "sqlite":
        return "sqlite:///" + str(_sqlite_file(url, rest, source))
    _check_psycopg(source)
    return f"postgresql+psycopg://{rest}"


def _sqlite_file(url: str, rest: str, source: str) -> Path:
    if not rest.startswith("/") or rest in {"/", "/:memory:"} or "?" in rest:
        raise InputError(
            f"{source} {url!r} names no database file; write sqlite:///labels.db (relative) "
            "or sqlite:////absolute/path/labels.db"
        )
    path = Path(rest[1:]).expanduser().absolute()
    if path.is_dir():
        raise InputError(
            f"{source} {url!r} points at a folder; give a file such as {path}/labels.db"
        )
    if not path.parent.is_dir():
        raise InputError(
            f"{source} {url!r}: the folder {path.parent} does not exist; create it first"
        )
    return path


def _check_psycopg(source: str) -> None:
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        raise InputError(
            f"{source} names a PostgreSQL database but psycopg is not installed; "
            'run pip install "fracturelab[postgres]"'
        )
