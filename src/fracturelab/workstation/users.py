"""Workstation accounts: adding users, and Argon2id password hashes."""

from __future__ import annotations

import difflib
import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from fracturelab.errors import InputError
from fracturelab.workstation.models import ROLES, User

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "add_user",
    "get_user",
    "hash_password",
    "list_users",
    "set_password",
    "verify_nobody",
    "verify_password",
]

#: Shortest password accepted.
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,63}")
_HASHER = PasswordHasher(type=Type.ID)  # argon2-cffi's RFC 9106 low-memory profile


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
    if role not in ROLES:
        close = difflib.get_close_matches(role, ROLES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InputError(f"role {role!r} is not known; {hint}use reader or admin")
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


def get_user(session: Session, username: str) -> User:
    """The user called ``username``.

    Raises:
        InputError: If there is none (with the closest existing name).

    """
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        names = list(session.scalars(select(User.username)))
        close = difflib.get_close_matches(username, names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
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
