"""Workstation fixtures: a fresh database on SQLite, and on PostgreSQL when one is given.

Set ``FRACTURELAB_TEST_POSTGRES_URL`` (e.g. ``postgresql://postgres@localhost/fl_test``) to
run the database tests on PostgreSQL too; the database is emptied before every test
(``tests/postgres.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fracturelab.workstation.db import Database, init_database
from fracturelab.workstation.models import Case, User
from fracturelab.workstation.users import add_user
from tests.postgres import empty_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: an SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'labels.db'}"
    return empty_postgres()


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """An initialised workstation database."""
    init_database(db_url)
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id with tiny costs, so tests that only need users do not spend 0.1 s a hash."""
    from argon2 import PasswordHasher, Type

    from fracturelab.workstation import users

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1, type=Type.ID)
    monkeypatch.setattr(users, "_HASHER", cheap)


@pytest.fixture
def people(database: Database, fast_hashes: None) -> dict[str, User]:
    """An admin and two readers."""
    with database.transaction() as session:
        return {
            "admin": add_user(session, "admin", "admin-password", "admin"),
            "alice": add_user(session, "alice", "alice-password", "reader"),
            "bob": add_user(session, "bob", "bob-password1", "reader"),
        }


@pytest.fixture
def spine_case(database: Database) -> Case:
    """A spine case pointing at files that need not exist (nothing reads them here)."""
    with database.transaction() as session:
        case = Case(
            task="spine", name="case1", image_path="/data/ct/case1.nii.gz",
            labels_path="/data/masks/case1.nii.gz",
        )  # fmt: skip
        session.add(case)
    return case


# --- web server ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spine_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small spine phantom (T12-L2, L1 a 35 % wedge) stored LPS and PIR, plus an MHA copy."""
    import SimpleITK as sitk

    from fracturelab.synth import make_spine_phantom

    root = tmp_path_factory.mktemp("server-spine")
    files: dict[str, Path] = {}
    for orientation in ("LPS", "PIR"):
        phantom = make_spine_phantom(
            levels="T12-L2", spacing_mm=(2, 2, 2), fractures="L1:35%:wedge",
            orientation=orientation,
        )  # fmt: skip
        saved = phantom.save(root / orientation)
        files[f"ct_{orientation}"] = Path(saved["ct"])
        files[f"labels_{orientation}"] = Path(saved["vertebrae"])
    files["ct_mha"] = root / "ct.mha"
    image = sitk.ReadImage(str(files["ct_LPS"]))
    for key in image.GetMetaDataKeys():  # NIfTI header fields MetaImage cannot hold
        image.EraseMetaData(key)
    sitk.WriteImage(image, str(files["ct_mha"]))
    return files


@pytest.fixture(scope="session")
def femur_manifest_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic femur radiographs with their manifest."""
    from fracturelab.synth.femur import make_femur_dataset

    folder = tmp_path_factory.mktemp("server-femur")
    return make_femur_dataset(folder, 2, size_range_px=(256, 320), progress=False)


@pytest.fixture
def cases(
    database: Database, people: dict[str, User], spine_files: dict[str, Path],
    femur_manifest_path: Path,
) -> dict[str, int]:  # fmt: skip
    """Case ids: ``spine`` and ``femur`` (on alice's and bob's worklists), ``spine_pir`` (the
    same CT stored PIR), ``spine_mha`` (MHA) and ``femur2`` on alice's only."""
    from fracturelab.workstation.importer import import_femur
    from fracturelab.workstation.worklist import assign

    with database.transaction() as session:
        rows = {
            "spine": Case(task="spine", name="lps", image_path=str(spine_files["ct_LPS"]),
                          labels_path=str(spine_files["labels_LPS"]),
                          suggestion={"L1": {"genant_grade": 2, "morphology": "wedge",
                                             "height_loss_pct": 34.0}}),
            "spine_pir": Case(task="spine", name="pir", image_path=str(spine_files["ct_PIR"]),
                              labels_path=str(spine_files["labels_PIR"])),
            "spine_mha": Case(task="spine", name="mha", image_path=str(spine_files["ct_mha"]),
                              labels_path=str(spine_files["labels_LPS"])),
        }  # fmt: skip
        session.add_all(rows.values())
    with database.session() as session:
        import_femur(session, femur_manifest_path)
        femurs = list(session.scalars(select(Case).where(Case.task == "femur").order_by(Case.name)))
        ids = {name: case.id for name, case in rows.items()}
        ids["femur"], ids["femur2"] = femurs[0].id, femurs[1].id
        alice, bob = session.get(User, people["alice"].id), session.get(User, people["bob"].id)
        assert alice is not None and bob is not None
        assign(session, [session.get(Case, i) for i in ids.values()], alice)
        assign(session, [session.get(Case, ids["spine"]), session.get(Case, ids["femur"])], bob)
        session.commit()
    return ids
