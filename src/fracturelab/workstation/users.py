"""Workstation accounts: adding, deactivating and resetting users, Argon2id password hashes.

The account actions an admin takes (in the browser or on the command line) and a user's own
password change are written to the append-only audit table; a deactivated account, or one
whose password was reset, loses its browser sessions at once.
"""

from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fracturelab.checks import closest_match
from fracturelab.errors import InputError
from fracturelab.workstation import audit
from fracturelab.workstation.models import ROLES, User, WebSession

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "WrongPasswordError",
    "add_user",
    "change_own_password",
    "check_role",
    "create_account",
    "end_sessions",
    "find_user",
    "generate_password",
    "get_user",
    "hash_password",
    "list_users",
    "reset_password",
    "session_counts",
    "set_active",
    "set_password",
    "verify_nobody",
    "verify_password",
]

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_HASHER = PasswordHasher(type=Type.ID)  # argon2-cffi's RFC 9106 low-memory profile


class WrongPasswordError(InputError):
    """The current password given to :func:`change_own_password` is not the user's."""


def hash_password(password: str) -> str:
    """An Argon2id hash (``$argon2id$...``) of ``password``, after checking its length.

    Raises:
        InputError: If the password is shorter than :data:`MIN_PASSWORD_LENGTH`.

    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"password is too short ({len(password)} characters); use at least "
            f"{MIN_PASSWORD_LENGTH}"
        )
    return _HASHER.hash(password)


def _check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        lower = username.strip().lower()
        hint = f" such as {lower!r}" if _USERNAME.fullmatch(lower) else ""
        raise InputError(
            f"username {username!r} is not valid; use 2-64 lowercase letters, digits, '.', '_' "
            f"or '-', starting with a letter{hint}"
        )
    return username


def check_role(role: str, option: str = "role") -> str:
    """Return ``role`` if it is ``reader`` or ``admin``.

    Args:
        role: The role given.
        option: How the caller named it, for the message (``role``, ``--role``).

    Raises:
        InputError: ``role 'x' is not known; did you mean 'y'? use reader or admin``.

    """
    if role not in ROLES:
        close = closest_match(role, ROLES)
        hint = f"did you mean {close!r}? " if close else ""
        raise InputError(f"{option} {role!r} is not known; {hint}use reader or admin")
    return role


def add_user(session: Session, username: str, password: str, role: str = "reader") -> User:
    """Create a user with an Argon2id password hash; the caller commits.

    Args:
        session: Open session.
        username: 2-64 characters: lowercase letters, digits, ``.``, ``_``, ``-``.
        password: At least :data:`MIN_PASSWORD_LENGTH` characters.
        role: ``"reader"`` or ``"admin"``.

    Raises:
        InputError: If the username is taken or invalid, the role unknown or the password
            too short.

    """
    check_role(role)
    _check_username(username)
    if session.scalars(select(User).where(User.username == username)).first() is not None:
        raise InputError(
            f"user {username!r} already exists; choose another name or change the password "
            "of the existing user"
        )
    user = User(username=username, password_hash=hash_password(password), role=role, active=True)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    """The user called ``username``, or ``None``."""
    return session.scalars(select(User).where(User.username == username)).first()


def session_counts(session: Session) -> dict[int, int]:
    """User id -> number of the user's browser sessions (users without one are left out)."""
    rows = session.execute(
        select(WebSession.user_id, func.count()).group_by(WebSession.user_id)
    ).all()
    return {int(user_id): int(count) for user_id, count in rows}


def get_user(session: Session, username: str) -> User:
    """The user called ``username``.

    Raises:
        InputError: If there is none (with the closest existing name).

    """
    user = find_user(session, username)
    if user is None:
        names = list(session.scalars(select(User.username)))
        close = closest_match(username, names)
        hint = f"did you mean {close!r}? " if close else ""
        raise InputError(
            f"no user {username!r}; {hint}add one with fracturelab workstation user add"
        )
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is the user's; upgrades an outdated hash in place when it is.

    Only the password is checked: whether the account is active is the caller's business.
    """
    try:
        _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return True


_NOBODY: list[str] = []


def verify_nobody(password: str) -> bool:
    """Spend the time of one password check, then return ``False``.

    The answer for unknown user names, so that response times do not reveal which names exist.
    """
    if not _NOBODY:
        _NOBODY.append(_HASHER.hash("no user has this password"))
    try:
        _HASHER.verify(_NOBODY[0], password)
    except (VerificationError, InvalidHashError):
        return False
    return False


def set_password(user: User, password: str) -> None:
    """Replace the user's password (the caller commits).

    Raises:
        InputError: If the password is too short.

    """
    user.password_hash = hash_password(password)


def generate_password() -> str:
    """A random password of 16 URL-safe characters (96 bits), to be shown once."""
    return secrets.token_urlsafe(12)


def end_sessions(session: Session, user: User, *, keep: str | None = None) -> int:
    """Delete the user's browser sessions, except the one whose token hash is ``keep``.

    Returns:
        How many sessions ended.

    """
    query = delete(WebSession).where(WebSession.user_id == user.id)
    if keep is not None:
        query = query.where(WebSession.token_hash != keep)
    result = session.execute(query.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


def _audit(
    session: Session,
    action: str,
    user: User,
    by: User | None,
    client: str | None,
    old: dict[str, object] | None = None,
    new: dict[str, object] | None = None,
) -> None:
    audit.record(
        session, action, by=by, old=old, new={"username": user.username, **(new or {})},
        client=client,
    )  # fmt: skip


def create_account(
    session: Session,
    username: str,
    role: str = "reader",
    password: str | None = None,
    *,
    by: User | None = None,
    client: str | None = None,
) -> tuple[User, str | None]:
    """Add a user as :func:`add_user` does and write a ``user_add`` audit row; caller commits.

    Args:
        session: Open session.
        username: The new user name (rules of :func:`add_user`).
        role: ``"reader"`` or ``"admin"``.
        password: The initial password; ``None`` generates one (:func:`generate_password`).
        by: The admin who creates the account (``None``: the command line).
        client: The admin's address.

    Returns:
        The user and the generated password (``None`` when ``password`` was given).

    Raises:
        InputError: As :func:`add_user`.

    """
    generated = generate_password() if password is None else None
    user = add_user(session, username, generated or password or "", role)
    _audit(session, "user_add", user, by, client, new={"role": role})
    return user, generated


def set_active(
    session: Session,
    user: User,
    active: bool,
    *,
    by: User | None = None,
    client: str | None = None,
) -> int:
    """Deactivate or reactivate an account (audited); deactivation ends its sessions.

    Nothing is written when the account already is in that state. The caller commits.

    Returns:
        How many browser sessions ended.

    Raises:
        InputError: If an admin tries to deactivate their own account.

    """
    if by is not None and by.id == user.id and not active:
        raise InputError(
            f"you cannot deactivate your own account {user.username!r}; ask another admin"
        )
    if user.active == active:
        return 0
    user.active = active
    _audit(
        session,
        "user_activate" if active else "user_deactivate",
        user,
        by,
        client,
        old={"active": not active},
        new={"active": active},
    )
    return 0 if active else end_sessions(session, user)


def reset_password(
    session: Session,
    user: User,
    password: str | None = None,
    *,
    by: User | None = None,
    client: str | None = None,
) -> tuple[str | None, int]:
    """Give a user a new password chosen by an admin (audited) and end all their sessions.

    Args:
        session: Open session; the caller commits.
        user: Whose password.
        password: The new password; ``None`` generates one.
        by: The admin (``None``: the command line).
        client: The admin's address.

    Returns:
        The generated password (``None`` when ``password`` was given) and how many sessions
        ended.

    Raises:
        InputError: If the password is too short, or an admin resets their own password
            (they change it with their current one instead).

    """
    if by is not None and by.id == user.id:
        raise InputError(
            "this is your own account; change your password with Change password (it asks "
            "for the current one)"
        )
    generated = generate_password() if password is None else None
    set_password(user, generated or password or "")
    _audit(session, "password_reset", user, by, client)
    return generated, end_sessions(session, user)


def change_own_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    keep_session: str | None = None,
    client: str | None = None,
) -> int:
    """Change a user's own password after checking the current one (audited).

    Args:
        session: Open session; the caller commits.
        user: The logged-in user.
        current: Their current password.
        new: The new password (:data:`MIN_PASSWORD_LENGTH` characters or more).
        keep_session: Token hash of the browser session to keep; every other one ends.
        client: The user's address.

    Returns:
        How many other sessions ended.

    Raises:
        WrongPasswordError: If the current password is wrong.
        InputError: If the new password is too short or the same as the current one.

    """
    if not verify_password(user, current):
        raise WrongPasswordError("the current password is wrong; type the password you log in with")
    if new == current:
        raise InputError("the new password is the same as the current one; choose another")
    set_password(user, new)
    _audit(session, "password_change", user, user, client)
    return end_sessions(session, user, keep=keep_session)
