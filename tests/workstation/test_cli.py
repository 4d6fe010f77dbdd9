from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.workstation.settings import DB_ENV
from tests.cli.test_spine_cli import _one_line_error

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(DB_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'labels.db'}"
    result = runner.invoke(app, ["workstation", "init", "--db", url])
    assert result.exit_code == 0, result.output
    assert "Created workstation database" in result.output
    return url


def _ok(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(app, ["workstation", *args], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_twice_says_up_to_date(db: str) -> None:
    assert "is up to date" in _ok("init", "--db", db)


def test_users_from_stdin_and_prompt(db: str) -> None:
    admin = ["user", "add", "boss", "--role", "admin", "--password-stdin", "--db", db]
    assert "Added admin 'boss'" in _ok(*admin, stdin="s3cret-pass\n")
    prompted = _ok("user", "add", "alice", "--db", db, stdin="another-pass\nanother-pass\n")
    assert "Added reader 'alice'" in prompted
    listing = _ok("user", "list", "--db", db)
    assert "boss" in listing and "admin" in listing and "alice" in listing
    result = runner.invoke(app, ["workstation", "user", "add", "alice", "--password-stdin",
                                 "--db", db], input="whatever-pass\n")  # fmt: skip
    _one_line_error(result, "user 'alice' already exists")


def test_unknown_role_is_one_line(db: str) -> None:
    command = ["user", "add", "carol", "--role", "radiologist", "--password-stdin", "--db", db]
    result = runner.invoke(app, ["workstation", *command], input="password123\n")
    _one_line_error(result, "role 'radiologist' is not known", "reader or admin")


def test_bad_or_missing_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    result = runner.invoke(app, ["workstation", "init", "--db", "sqllite:///labels.db"])
    _one_line_error(result, "did you mean sqlite://")
    result = runner.invoke(app, ["workstation", "user", "list"])
    _one_line_error(result, "--db sqlite:///labels.db", DB_ENV)
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path / 'fresh.db'}")
    result = runner.invoke(app, ["workstation", "user", "list"])
    _one_line_error(result, "not initialised", "fracturelab workstation init")


def test_missing_manifest_is_one_line(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["workstation", "import", "femur", "--manifest",
                                 str(tmp_path / "nope.csv"), "--db", db])  # fmt: skip
    _one_line_error(result, "nope.csv does not exist")


def test_import_assign_and_export_femur(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher, Type

    from fracturelab.synth.femur import make_femur_dataset
    from fracturelab.workstation import users

    monkeypatch.setattr(users, "_HASHER", PasswordHasher(1, 64, 1, type=Type.ID))
    monkeypatch.setenv(DB_ENV, db)  # the fallback for --db
    manifest = make_femur_dataset(tmp_path / "data", 2, size_range_px=(64, 96), progress=False)
    assert "2 added, 0 already imported, 0 failed" in _ok("import", "femur", "--manifest",
                                                          str(manifest))  # fmt: skip
    assert "0 added, 2 already imported" in _ok("import", "femur", "--manifest", str(manifest))
    _ok("user", "add", "alice", "--password-stdin", stdin="password123\n")
    assert "Assigned 2 femur case(s) to alice" in _ok("assign", "--task", "femur", "--reader",
                                                      "alice", "--all-cases")  # fmt: skip
    with manifest.open() as handle:
        first = next(csv.DictReader(handle))["image"]
    assert "Assigned 0 femur case(s) to alice (1 already" in _ok(
        "assign", "--task", "femur", "--reader", "alice", "--case", first
    )
    result = runner.invoke(app, ["workstation", "assign", "--task", "femur", "--reader",
                                 "alice", "--case", "images/nope.png"])  # fmt: skip
    _one_line_error(result, "no femur case 'images/nope.png'")
    result = runner.invoke(app, ["workstation", "assign", "--task", "femru", "--reader", "alice",
                                 "--all-cases"])  # fmt: skip
    _one_line_error(result, "did you mean 'femur'")
    out = tmp_path / "export.csv"
    output = _ok("export", "--task", "femur", "--out", str(out), "--reader", "alice")
    assert "Wrote 0 row(s)" in output
    assert out.read_text() == "image,patient_id,label,center_x,center_y,pixel_spacing_mm\n"


def test_import_spine_command(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["workstation", "import", "spine", "--ct-dir",
                                 str(tmp_path / "cts"), "--vertebrae-dir", str(tmp_path),
                                 "--db", db])  # fmt: skip
    _one_line_error(result, "--ct-dir", "does not exist")


def test_fracturelab_help_lists_workstation() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "workstation" in result.output
