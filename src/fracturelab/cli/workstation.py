"""``fracturelab workstation``: set up the labelling workstation's database, users and cases."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fracturelab.cli._common import user_errors

if TYPE_CHECKING:
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.importer import ImportSummary

__all__ = ["app"]

_HELP = "Labelling workstation: database, users, cases, worklists and label export."
app = typer.Typer(
    help=_HELP, no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
user_app = typer.Typer(
    help="Accounts of readers and admins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(
    help="Register images as cases (files stay where they are).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(user_app, name="user")
app.add_typer(import_app, name="import")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, e.g. sqlite:///labels.db or postgresql://user@host/labels "
        "(default: $FRACTURELAB_DB).",
        show_default=False,
    ),
]


@app.callback()
def _workstation() -> None:
    """Labelling workstation: database, users, cases, worklists and label export."""


@contextmanager
def _connected(db: str | None) -> Iterator[Database]:
    """The checked workstation database; its connections are closed afterwards, error or not."""
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.settings import WorkstationSettings

    database = Database(WorkstationSettings.resolve(db))
    try:
        database.check()
        yield database
    finally:
        database.dispose()


def _echo_importing(name: str) -> None:
    typer.echo(f"importing {name}", err=True)


@app.command("init")
def init(db: DbOption = None) -> None:
    """Create the database, or upgrade an older one to the current schema."""
    with user_errors():
        from fracturelab.workstation.db import Database
        from fracturelab.workstation.settings import WorkstationSettings

        database = Database(WorkstationSettings.resolve(db))
        try:
            result = database.upgrade()
        finally:
            database.dispose()
        if result.before is None:
            typer.echo(f"Created workstation database {database.display_url} ({result.after})")
        elif result.changed:
            typer.echo(f"Upgraded {database.display_url} from {result.before} to {result.after}")
        else:
            typer.echo(f"{database.display_url} is up to date ({result.after})")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username: lowercase letters, digits, . _ -.")],
    role: Annotated[str, typer.Option(help="reader or admin.")] = "reader",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a user; asks for the password twice (hidden) unless --password-stdin."""
    with user_errors():
        from fracturelab.workstation.users import add_user

        with _connected(db) as database:
            if password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
            with database.transaction() as session:
                add_user(session, name, password, role)
        typer.echo(f"Added {role} {name!r}")


@user_app.command("list")
def user_list(db: DbOption = None) -> None:
    """List users, their roles and whether they are active."""
    with user_errors():
        from rich.console import Console
        from rich.table import Table

        from fracturelab.workstation.users import list_users

        with _connected(db) as database:
            table = Table("user", "role", "active", "created")
            with database.transaction() as session:
                for user in list_users(session):
                    created = f"{user.created_at:%Y-%m-%d %H:%M}"
                    table.add_row(user.username, user.role, "yes" if user.active else "no", created)
        Console().print(table)


def _report(summary: ImportSummary) -> None:
    for name, reason in summary.failed:
        typer.echo(f"failed: {name}: {reason}", err=True)
    for note in summary.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"Imported: {summary.describe()}")


@import_app.command("spine")
def import_spine(
    ct_dir: Annotated[Path, typer.Option(help="Folder of CTs (files or DICOM folders).")],
    vertebrae_dir: Annotated[
        Path, typer.Option(help="Folder of label maps: <case>, <case>_vertebrae or <case>/.")
    ],
    suggest: Annotated[
        bool, typer.Option("--suggest", help="Pre-fill grades from `spine analyze`.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Register spine CTs and their vertebra label maps, paired by name."""
    with user_errors():
        from fracturelab.workstation.importer import import_spine as run

        with _connected(db) as database, database.session() as session:
            summary = run(
                session,
                ct_dir,
                vertebrae_dir,
                suggest,
                progress=_echo_importing,
            )
        _report(summary)


@import_app.command("femur")
def import_femur(
    manifest: Annotated[Path, typer.Option(help="Femur manifest CSV (image,patient_id,...).")],
    model: Annotated[
        Path | None, typer.Option(help="Model folder for suggestions, e.g. runs/x/models/best.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Register the radiographs of a femur manifest, one case per row."""
    with user_errors():
        from fracturelab.workstation.importer import import_femur as run

        with _connected(db) as database, database.session() as session:
            summary = run(
                session,
                manifest,
                model,
                progress=_echo_importing,
            )
        _report(summary)


@app.command("assign")
def assign(
    task: Annotated[str, typer.Option(help="spine or femur.")],
    reader: Annotated[str, typer.Option(help="Username of the reader.")],
    case: Annotated[
        list[str] | None, typer.Option(help="Case name; repeat for several cases.")
    ] = None,
    all_cases: Annotated[
        bool, typer.Option("--all-cases", help="Assign every case of the task.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Put cases on a reader's worklist."""
    with user_errors():
        from fracturelab.errors import InputError
        from fracturelab.workstation.users import get_user
        from fracturelab.workstation.worklist import assign as run
        from fracturelab.workstation.worklist import check_task, get_case, list_cases

        check_task(task)
        if bool(case) == all_cases:
            raise InputError("give either --case NAME (repeatable) or --all-cases, not both")
        with _connected(db) as database, database.transaction() as session:
            user = get_user(session, reader)
            cases = (
                list_cases(session, task)
                if all_cases
                else [get_case(session, task, name) for name in case or []]
            )
            result = run(session, cases, user)
        typer.echo(
            f"Assigned {result.added} {task} case(s) to {reader} "
            f"({result.already} already on the worklist)"
        )


@app.command("export")
def export(
    task: Annotated[str, typer.Option(help="spine or femur.")],
    out: Annotated[Path, typer.Option(help="Output CSV (spine labels or femur manifest).")],
    reader: Annotated[
        str | None, typer.Option(help="Export one reader's finished readings.")
    ] = None,
    consensus: Annotated[
        str, typer.Option(help="Without --reader: reference, majority or median.")
    ] = "majority",
    db: DbOption = None,
) -> None:
    """Write labels in the format the training commands read."""
    with user_errors():
        from fracturelab.workstation.exporter import export_femur, export_spine
        from fracturelab.workstation.worklist import check_task

        run = export_spine if check_task(task) == "spine" else export_femur
        with _connected(db) as database, database.session() as session:
            summary = run(session, out, reader, consensus)
        for tie in summary.ties:
            typer.echo(f"tie (left empty): {tie}", err=True)
        if summary.skipped:
            typer.echo(f"note: {len(summary.skipped)} case(s) left out, e.g. "
                       f"{summary.skipped[0]}", err=True)  # fmt: skip
        typer.echo(f"Wrote {summary.rows} row(s) from {summary.cases} case(s) to {out}")
