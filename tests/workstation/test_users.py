from __future__ import annotations

import pytest

from fracturelab.errors import InputError
from fracturelab.workstation.db import Database
from fracturelab.workstation.users import (
    add_user,
    get_user,
    list_users,
    set_password,
    verify_password,
)


def test_passwords_are_hashed_with_argon2id(database: Database) -> None:
    with database.transaction() as session:
        user = add_user(session, "alice", "correct horse", "reader")
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert verify_password(user, "correct horse")
    assert not verify_password(user, "wrong password")
    set_password(user, "battery staple")
    assert verify_password(user, "battery staple") and not verify_password(user, "correct horse")


def test_duplicate_username_is_refused(database: Database, fast_hashes: None) -> None:
    with database.transaction() as session:
        add_user(session, "alice", "password1", "reader")
    with (
        pytest.raises(InputError, match="user 'alice' already exists"),
        database.transaction() as s,
    ):
        add_user(s, "alice", "password2", "admin")
    with database.transaction() as session:
        assert [u.username for u in list_users(session)] == ["alice"]


@pytest.mark.parametrize(
    ("name", "password", "role", "fragment"),
    [
        ("Alice", "password1", "reader", "such as 'alice'"),
        ("a", "password1", "reader", "2-64 lowercase"),
        ("alice smith", "password1", "reader", "not valid"),
        ("alice", "short", "reader", "too short"),
        ("alice", "password1", "raeder", "did you mean 'reader'"),
    ],
)
def test_bad_users_are_explained(
    database: Database, fast_hashes: None, name: str, password: str, role: str, fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment), database.transaction() as session:
        add_user(session, name, password, role)


def test_unknown_user_suggests_a_name(database: Database, fast_hashes: None) -> None:
    with database.transaction() as session:
        add_user(session, "alice", "password1")
        with pytest.raises(InputError, match="did you mean 'alice'"):
            get_user(session, "alcie")
