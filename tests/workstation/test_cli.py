from __future__ import annotations

import csv
from pathlib import Path

import pytest

from fracturelab.cli.main import app
from fracturelab.workstation.settings import DB_ENV
from tests.cli.helpers import one_line_error
from tests.workstation.helpers import cli_ok as _ok
from tests.workstation.helpers import cli_runner as runner


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv(DB_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'labels.db'}"
    result = runner.invoke(app, ["workstation", "init", "--db", url])
    assert result.exit_code == 0, result.output
    assert "Created workstation database" in result.output
    return url


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
    one_line_error(result, "user 'alice' already exists")


def test_unknown_role_is_one_line(db: str) -> None:
    command = ["user", "add", "carol", "--role", "radiologist", "--password-stdin", "--db", db]
    result = runner.invoke(app, ["workstation", *command], input="password123\n")
    one_line_error(result, "role 'radiologist' is not known", "reader or admin")


def test_bad_or_missing_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    result = runner.invoke(app, ["workstation", "init", "--db", "sqllite:///labels.db"])
    one_line_error(result, "did you mean sqlite://")
    result = runner.invoke(app, ["workstation", "user", "list"])
    one_line_error(result, "--db sqlite:///labels.db", DB_ENV)
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path / 'fresh.db'}")
    result = runner.invoke(app, ["workstation", "user", "list"])
    one_line_error(result, "not initialised", "fracturelab workstation init")


def test_missing_manifest_is_one_line(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["workstation", "import", "femur", "--manifest",
                                 str(tmp_path / "nope.csv"), "--db", db])  # fmt: skip
    one_line_error(result, "nope.csv does not exist")


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
    one_line_error(result, "no femur case 'images/nope.png'")
    result = runner.invoke(app, ["workstation", "assign", "--task", "femru", "--reader", "alice",
                                 "--all-cases"])  # fmt: skip
    one_line_error(result, "did you mean 'femur'")
    out = tmp_path / "export.csv"
    output = _ok("export", "--task", "femur", "--out", str(out), "--reader", "alice")
    assert "Wrote 0 row(s)" in output
    assert out.read_text() == "image,patient_id,label,center_x,center_y,pixel_spacing_mm\n"


def test_import_spine_command(db: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["workstation", "import", "spine", "--ct-dir",
                                 str(tmp_path / "cts"), "--vertebrae-dir", str(tmp_path),
                                 "--db", db])  # fmt: skip
    one_line_error(result, "--ct-dir", "does not exist")


def test_fracturelab_help_lists_workstation() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "workstation" in result.output


def _two_spine_readers(db: str, monkeypatch: pytest.MonkeyPatch, *, bob: bool = True) -> None:
    from argon2 import PasswordHasher, Type

    from fracturelab.workstation import users
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.models import Case
    from tests.workstation.helpers import read_case as _read

    monkeypatch.setattr(users, "_HASHER", PasswordHasher(1, 64, 1, type=Type.ID))
    database = Database(db)
    try:
        with database.transaction() as session:
            case = Case(task="spine", name="case1", image_path="/d/c.nii.gz",
                        labels_path="/d/m.nii.gz")  # fmt: skip
            session.add(case)
            session.flush()
            alice = users.add_user(session, "alice", "password123")
            grades = {"L1": 0, "L2": 1, "L3": 2, "L4": 0}
            _read(session, case, alice, {k: {"genant_grade": g} for k, g in grades.items()})
            if bob:
                bob_user = users.add_user(session, "bob", "password123")
                grades = {"L1": 0, "L2": 2, "L3": 2, "L4": 1}
                _read(session, case, bob_user, {k: {"genant_grade": g} for k, g in grades.items()})
    finally:
        database.dispose()


def test_agreement_command_prints_and_writes(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    _two_spine_readers(db, monkeypatch)
    out = tmp_path / "agreement"
    output = _ok("agreement", "--task", "spine", "--db", db, "--out", str(out))
    assert "alice / bob" in output and "Wrote" in output
    data = json.loads((out / "agreement.json").read_text())
    (pair,) = data["pairs"]
    # Grades 0,1,2,0 vs 0,2,2,1: sum(w O) = 2, marginals (2,1,1,0) and (1,1,2,0), n = 4:
    # sum(w E) = (2*(1+8) + 1*(1+2) + 1*(4+1)) / 4 = 26/4 -> kappa = 1 - 2/6.5 = 9/13.
    assert pair["grade_kappa_quadratic"] == pytest.approx(9 / 13, abs=1e-6)
    assert f"{9 / 13:.3f}" in output
    assert (out / "agreement.csv").read_text().startswith("reader_a,reader_b,n_levels,")
    femur = runner.invoke(app, ["workstation", "agreement", "--task", "femur", "--db", db])
    one_line_error(femur, "at least 2 readers", "found none")


def test_agreement_with_one_reader_is_one_line(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_spine_readers(db, monkeypatch, bob=False)
    result = runner.invoke(app, ["workstation", "agreement", "--task", "spine", "--db", db,
                                 "--out", str(tmp_path / "out")])  # fmt: skip
    one_line_error(result, "at least 2 readers", "found 1 (alice)")
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["workstation", "agreement", "--task", "knee", "--db", db])
    one_line_error(result, "task 'knee' is not known")


def test_serve_help_lists_options() -> None:
    result = runner.invoke(app, ["workstation", "serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for option in ("--db", "--host", "--port", "--secure-cookies", "--no-secure-cookies",
                   "--cache-dir", "127.0.0.1", "8000", "HTTPS", "--forwarded-allow-ips",
                   "--allowed-host"):  # fmt: skip
        assert option in result.output, option


def test_serve_on_an_uninitialised_database_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["workstation", "serve", "--db", url, "--port", "8765"])
    one_line_error(result, "not initialised", "fracturelab workstation init")
    result = runner.invoke(app, ["workstation", "serve", "--port", "8765"])
    one_line_error(result, "no database given", DB_ENV)
    result = runner.invoke(app, ["workstation", "serve", "--db", url, "--port", "0"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_agreement_femur_table_says_pixels_without_spacing(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher, Type

    from fracturelab.workstation import users
    from fracturelab.workstation.db import Database
    from fracturelab.workstation.models import Case
    from tests.workstation.helpers import read_case as _read

    monkeypatch.setattr(users, "_HASHER", PasswordHasher(1, 64, 1, type=Type.ID))
    database = Database(db)
    try:
        with database.transaction() as session:
            alice = users.add_user(session, "alice", "password123")
            bob = users.add_user(session, "bob", "password123")
            for k, (a, b) in enumerate((("AFF", "AFF"), ("NFF", "AFF"), ("NFF", "NFF"))):
                case = Case(task="femur", name=f"f{k}", image_path=f"/d/f{k}.png")
                session.add(case)
                session.flush()
                _read(session, case, alice, {"fracture": {"label": a, "center_x": 0,
                                                          "center_y": 0}})  # fmt: skip
                _read(session, case, bob, {"fracture": {"label": b, "center_x": 3 * k,
                                                        "center_y": 4 * k}})  # fmt: skip
    finally:
        database.dispose()
    result = runner.invoke(app, ["workstation", "agreement", "--task", "femur", "--db", db],
                           env={"COLUMNS": "120"})  # fmt: skip
    assert result.exit_code == 0, result.output
    # labels 2 of 3 agree; kappa (2/3 - 4/9) / (5/9) = 0.4; distances 0, 5, 10 px
    assert "alice / bob" in result.output and "66.7%" in result.output
    assert "0.400" in result.output and "median" in result.output
    assert "5.0" in result.output and "10.0" in result.output
    assert "in pixels, not mm" in result.output  # the note (stderr is mixed into output)


def test_demo_prints_the_passwords_it_stored_and_refuses_to_overwrite(
    tmp_path: Path, fast_hashes: None
) -> None:
    out = tmp_path / "demo"
    printed = _ok("demo", "--out", str(out), "--femur-images", "1")
    stored = dict(line.split() for line in (out / "credentials.txt").read_text().splitlines()[1:])
    for name, password in stored.items():
        assert f"user {name}  password {password}" in printed
    assert f"fracturelab workstation serve --db sqlite:///{out / 'labels.db'}" in printed
    again = runner.invoke(app, ["workstation", "demo", "--out", str(out)])
    one_line_error(again, "labels.db already exists", "give a new folder")


def test_serve_refuses_a_file_as_cache_folder(db: str, tmp_path: Path) -> None:
    taken = tmp_path / "cache.txt"
    taken.write_text("not a folder")
    result = runner.invoke(app, ["workstation", "serve", "--db", db, "--cache-dir", str(taken)])
    one_line_error(result, "--cache-dir", "is a file", "give a folder")


@pytest.mark.parametrize("content", ["file", "folder with files"])
def test_demo_refuses_a_file_or_a_folder_that_holds_files(tmp_path: Path, content: str) -> None:
    out = tmp_path / "out"
    if content == "file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["workstation", "demo", "--out", str(out)])
    one_line_error(result, str(out), "give a new or empty folder")
    if content != "file":
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]  # nothing written


def test_user_add_refuses_an_unknown_role_before_asking_for_a_password(db: str) -> None:
    result = runner.invoke(app, ["workstation", "user", "add", "carol", "--role", "superuser",
                                 "--db", db], input="password123\npassword123\n")  # fmt: skip
    one_line_error(result, "--role 'superuser' is not known", "reader or admin")
    assert "Password" not in result.output  # no prompt at all


def test_commands_on_a_missing_database_file_leave_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    path = tmp_path / "typo.db"
    for command in (["serve", "--port", "8765"], ["user", "list"],
                    ["user", "add", "carol", "--password-stdin"]):  # fmt: skip
        result = runner.invoke(app, ["workstation", *command, "--db", f"sqlite:///{path}"],
                               input="password123\n")  # fmt: skip
        one_line_error(result, "not initialised", "fracturelab workstation init")
        assert not path.exists(), command


def test_serve_refuses_untrusted_proxy_settings_in_one_line(db: str) -> None:
    for option, value, fragment in (
        ("--forwarded-allow-ips", "*", "not an IP address or network"),
        ("--forwarded-allow-ips", "proxy.local", "not an IP address or network"),
        ("--allowed-host", "*", "not a host name"),
    ):
        result = runner.invoke(app, ["workstation", "serve", "--db", db, option, value])
        one_line_error(result, f"{option} {value!r}", fragment)


def test_import_spine_says_which_files_it_skipped(db: str, tmp_path: Path) -> None:
    import numpy as np
    import SimpleITK as sitk

    cts, masks = tmp_path / "cts", tmp_path / "masks"
    cts.mkdir()
    masks.mkdir()
    ct = sitk.GetImageFromArray(np.full((6, 6, 6), 100, dtype=np.int16))
    labels = sitk.GetImageFromArray(np.pad(np.full((2, 2, 2), 20, np.uint8), 2))
    sitk.WriteImage(ct, str(cts / "case1.nii.gz"))
    sitk.WriteImage(ct, str(cts / "case1.nii"))  # a second file for the same case
    sitk.WriteImage(labels, str(masks / "case1_vertebrae.nii.gz"))
    sitk.WriteImage(sitk.Cast(ct, sitk.sitkUInt8), str(cts / "scout.png"))
    result = runner.invoke(app, ["workstation", "import", "spine", "--ct-dir", str(cts),
                                 "--vertebrae-dir", str(masks), "--db", db])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    assert "note: skipped scout.png: not a CT volume" in result.output
    assert "note: skipped case1.nii.gz: case1.nii already gives the case 'case1'" in (result.output)
    (cts / "case1.nii").unlink()
    (cts / "case1.nii.gz").unlink()
    result = runner.invoke(app, ["workstation", "import", "spine", "--ct-dir", str(cts),
                                 "--vertebrae-dir", str(masks), "--db", db])  # fmt: skip
    one_line_error(result, "holds no CT (skipped scout.png")
