"""The ``--db`` option and the database connection shared by the workstation commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fracturelab.workstation.db import Database

__all__ = ["DbOption", "connected"]

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, e.g. sqlite:///labels.db or postgresql://user@host/labels "
        "(default: $FRACTURELAB_DB).",
        show_default=False,
    ),
]


@contextmanager
def connected(db: str | None) -> Iterator[Database]:
    """The checked workstation database; its connections are closed afterwards, error or not."""
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.settings import WorkstationSettings

    database = Database(WorkstationSettings.resolve(db))
    try:
        database.check()
        yield database
    finally:
        database.dispose()
