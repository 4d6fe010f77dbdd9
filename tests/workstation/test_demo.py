from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from fracturelab.errors import InputError
from fracturelab.femur.bundle import FemurModel
from fracturelab.imaging.radiograph_io import read_radiograph
from fracturelab.workstation.db import Database
from fracturelab.workstation.demo import DEMO_READERS, build_demo
from fracturelab.workstation.models import Case, User
from fracturelab.workstation.users import verify_password
from fracturelab.workstation.worklist import worklist


def test_demo_workstation_is_ready_to_read(tmp_path: Path, fast_hashes: None) -> None:
    demo = build_demo(tmp_path / "demo", femur_images=2, femur_training_epochs=1)
    credentials = tmp_path / "demo" / "credentials.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    written = dict(line.split() for line in credentials.read_text().splitlines()[1:])
    assert written == demo.passwords and set(written) == {"admin", *DEMO_READERS}
    database = Database(demo.database_url)
    database.check()
    with database.session() as session:
        users = {user.username: user for user in session.scalars(select(User))}
        assert all(verify_password(users[name], written[name]) for name in written)
        assert users["admin"].role == "admin"
        spine = {c.name: c for c in session.scalars(select(Case).where(Case.task == "spine"))}
        assert sorted(spine) == ["spine01", "spine02", "spine03"]
        # the phantoms' known fractures come back as suggestions
        suggestion = spine["spine01"].suggestion
        assert suggestion is not None
        assert (suggestion["L1"]["genant_grade"], suggestion["L1"]["morphology"]) == (3, "crush")
        assert suggestion["T12"]["genant_grade"] == 2
        assert spine["spine02"].suggestion["L2"]["morphology"] == "biconcave"  # type: ignore[index]
        assert all(level["genant_grade"] == 0 for level in spine["spine03"].suggestion.values())  # type: ignore[union-attr]
        for reader in DEMO_READERS:
            assert len(worklist(session, users[reader])) == 5  # 3 spine + 2 femur
        femur = list(session.scalars(select(Case).where(Case.task == "femur")))
        stored = {case.image_path: case.suggestion for case in femur}
    database.dispose()
    # Femur suggestions are the predictions of the model the demo trained, on images it
    # did not train on.
    assert demo.femur_model is not None and (demo.femur_model / "model.json").is_file()
    model = FemurModel.load(demo.femur_model)
    assert len(stored) == 2
    for image, suggestion in stored.items():
        assert suggestion is not None, image
        prediction = model.predict(read_radiograph(image))
        assert prediction.center_px is not None
        assert suggestion == {
            "center_x": round(prediction.center_px[0], 2),
            "center_y": round(prediction.center_px[1], 2),
            "label": prediction.label,
            "p_aff": round(prediction.p_aff, 6),
        }
        assert 0.0 <= suggestion["p_aff"] <= 1.0
    training = {_digest(p) for p in (demo.folder / "femur-training" / "data").rglob("*.png")}
    assert training and not training & {_digest(Path(image)) for image in stored}
    with pytest.raises(InputError, match="already exists"):
        build_demo(tmp_path / "demo")


def test_demo_needs_a_femur_image(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="femur_images=0"):
        build_demo(tmp_path, femur_images=0)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
