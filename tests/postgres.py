"""The PostgreSQL test database (``FRACTURELAB_TEST_POSTGRES_URL``, started by ``.ci/run``).

One database serves every PostgreSQL test (workstation, batch results): each test empties it
first, whatever an earlier test of another part left in it.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "FRACTURELAB_TEST_POSTGRES_URL"


def empty_postgres() -> str:
    """The URL of the test database with every table, view and function dropped; else skip."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} to run on PostgreSQL")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
