from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.workstation.settings import DB_ENV, WorkstationSettings


def test_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    settings = WorkstationSettings.resolve(f"sqlite:///{tmp_path / 'arg.db'}")
    assert settings.database_url == f"sqlite:///{tmp_path / 'arg.db'}" and settings.is_sqlite
    assert WorkstationSettings.resolve(None).database_url.endswith("env.db")


def test_relative_sqlite_path_is_made_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert WorkstationSettings.resolve("sqlite:///labels.db").database_url == (
        f"sqlite:///{tmp_path / 'labels.db'}"
    )


def test_missing_url_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    with pytest.raises(InputError, match=rf"pass --db sqlite:///labels.db .* or set {DB_ENV}"):
        WorkstationSettings.resolve(None)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("sqlit:///labels.db", "did you mean sqlite://"),
        ("postgresq://u@h/db", "did you mean postgresql://"),
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("labels.db", "not a database URL"),
        ("sqlite://", "names no database file"),
        ("sqlite:///:memory:", "names no database file"),
        ("sqlite:///no/such/folder/labels.db", "does not exist; create it first"),
    ],
)
def test_bad_urls_are_explained(url: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment):
        WorkstationSettings.resolve(url)


def test_postgres_urls_use_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "psycopg" else real(name)
    )
    for url in ("postgresql://u:pw@host/db", "postgres://u:pw@host/db"):
        assert WorkstationSettings.resolve(url).database_url == "postgresql+psycopg://u:pw@host/db"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(InputError, match=r'pip install "fracturelab\[postgres\]"'):
        WorkstationSettings.resolve("postgresql://u@host/db")
