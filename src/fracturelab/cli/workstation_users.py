"""``fracturelab workstation user``: accounts of readers and admins, audited."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fracturelab.cli._common import user_errors
from fracturelab.cli._workstation_db import DbOption, connected

__all__ = ["CLI_CLIENT", "app"]

#: The audit rows' client of account changes made on the command line.
CLI_CLIENT = "cli"

app = typer.Typer(
    help="Accounts of readers and admins.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username: lowercase letters, digits, . _ -.")],
    role: Annotated[str, typer.Option(help="reader or admin.")] = "reader",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Add a user (audited); asks for the password twice (hidden) unless --password-stdin."""
    with user_errors():
        from fracturelab.workstation.users import check_role, create_account

        check_role(role, "--role")  # before asking for a password that would be thrown away
        with connected(db) as database:
            password = _read_password(password_stdin)
            with database.transaction() as session:
                create_account(session, name, role, password, by=None, client=CLI_CLIENT)
        typer.echo(f"Added {role} {name!r}")


def _read_password(from_stdin: bool) -> str:
    """One line of standard input, or the password typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("deactivate")
def user_deactivate(
    name: Annotated[str, typer.Argument(help="Username of the account.")],
    db: DbOption = None,
) -> None:
    """Deactivate an account (audited): it cannot log in, and its sessions end at once."""
    with user_errors():
        _set_active(db, name, active=False)


@app.command("activate")
def user_activate(
    name: Annotated[str, typer.Argument(help="Username of the account.")],
    db: DbOption = None,
) -> None:
    """Let a deactivated account log in again (audited)."""
    with user_errors():
        _set_active(db, name, active=True)


def _set_active(db: str | None, name: str, *, active: bool) -> None:
    from fracturelab.workstation.users import get_user, set_active

    with connected(db) as database, database.transaction() as session:
        user = get_user(session, name)
        if user.active == active:
            state = "active" if active else "deactivated"
            typer.echo(f"{name!r} is already {state}; nothing changed")
            return
        ended = set_active(session, user, active, by=None, client=CLI_CLIENT)
    if active:
        typer.echo(f"Activated {name!r}: the account can log in again")
    else:
        typer.echo(f"Deactivated {name!r}; ended {ended} browser session(s)")


@app.command("reset-password")
def user_reset_password(
    name: Annotated[str, typer.Argument(help="Username of the account.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate a password and print it once.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Give an account a new password (audited) and end its sessions.

    Asks for the password twice (hidden) unless --password-stdin or --generate.
    """
    with user_errors():
        from fracturelab.errors import InputError
        from fracturelab.workstation.users import get_user, reset_password

        if password_stdin and generate:
            raise InputError("give --password-stdin or --generate, not both")
        with connected(db) as database:
            with database.transaction() as session:
                get_user(session, name)  # before asking for a password that would be lost
            password = None if generate else _read_password(password_stdin)
            with database.transaction() as session:
                generated, ended = reset_password(
                    session, get_user(session, name), password, by=None, client=CLI_CLIENT
                )
        typer.echo(f"New password for {name!r}; ended {ended} browser session(s)")
        if generated is not None:
            typer.echo(f"Password (shown only now): {generated}")


@app.command("list")
def user_list(db: DbOption = None) -> None:
    """List users, their roles and whether they are active."""
    with user_errors():
        from rich.console import Console
        from rich.table import Table

        from fracturelab.workstation.users import list_users

        with connected(db) as database:
            table = Table("user", "role", "active", "created")
            with database.transaction() as session:
                for user in list_users(session):
                    created = f"{user.created_at:%Y-%m-%d %H:%M}"
                    table.add_row(user.username, user.role, "yes" if user.active else "no", created)
        Console().print(table)
