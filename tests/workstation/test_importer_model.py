"""``workstation import spine --suggest --model``: suggestions from a learned spine model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.spine.learned.apply import predict_scan, scan_inputs
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.pipeline import analyze, load_inputs
from fracturelab.workstation.db import Database
from fracturelab.workstation.importer import import_spine
from fracturelab.workstation.models import Case
from tests.cli.helpers import one_line_error
from tests.spine.model_helpers import tiny_spine_model

runner = CliRunner()


@pytest.fixture(scope="module")
def spine_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``cts/case1`` (L1 grade-2 wedge) and ``masks/case1_vertebrae``."""
    from fracturelab.synth import make_spine_phantom

    root = tmp_path_factory.mktemp("spine-model-import")
    phantom = make_spine_phantom(levels="T12-L2", spacing_mm=(3, 3, 3), fractures="L1:35%:wedge")
    paths = phantom.save(root / "phantom")
    cts, masks = root / "cts", root / "masks"
    cts.mkdir()
    masks.mkdir()
    shutil.copy(paths["ct"], cts / "case1.nii.gz")
    shutil.copy(paths["vertebrae"], masks / "case1_vertebrae.nii.gz")
    return cts, masks


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_spine_model(tmp_path_factory.mktemp("model") / "best")


def test_suggestions_come_from_the_model(
    database: Database, spine_folders: tuple[Path, Path], model_dir: Path
) -> None:
    cts, masks = spine_folders
    with database.session() as session:
        summary = import_spine(session, cts, masks, suggest=True, model_dir=model_dir)
    assert summary.added == ["case1"] and summary.notes == []
    ct, label_map = load_inputs(cts / "case1.nii.gz", masks / "case1_vertebrae.nii.gz")
    report = analyze(ct, label_map)
    model = SpineModel.load(model_dir)
    expected = predict_scan(model, scan_inputs(model, ct, label_map, report))
    with database.session() as session:
        suggestion = session.scalars(select(Case.suggestion)).one()
    assert suggestion is not None and list(suggestion) == ["T12", "L1", "L2"]
    for level, entry in suggestion.items():
        # The keys the front end reads, with the model's grade and morphology in them.
        assert entry["genant_grade"] == expected[level]["model_grade"]
        assert entry["morphology"] == expected[level]["model_morphology"]
        assert (entry["genant_grade"] == 0) == (entry["morphology"] == "normal")
        assert entry["fracture_probability"] == expected[level]["fracture_probability"]
        assert entry["grade_probabilities"] == expected[level]["model_grade_probabilities"]
        assert entry["source"] == "model"
    # The height loss beside it is still the morphometry's.
    assert suggestion["L1"]["height_loss_pct"] == round(report["L1"].height_loss_pct or 0.0, 1)


def test_cli_option_and_femur_folder(
    db_url: str, spine_folders: tuple[Path, Path], model_dir: Path, tmp_path: Path
) -> None:
    cts, masks = spine_folders
    assert runner.invoke(app, ["workstation", "init", "--db", db_url]).exit_code == 0
    base = ["workstation", "import", "spine", "--ct-dir", str(cts), "--vertebrae-dir", str(masks)]
    femur = tmp_path / "femur"
    femur.mkdir()
    (femur / "model.json").write_text(json.dumps({"task": "femur-aff"}))
    refused = runner.invoke(app, [*base, "--suggest", "--model", str(femur), "--db", db_url])
    one_line_error(refused, str(femur), "femur model")
    result = runner.invoke(app, [*base, "--suggest", "--model", str(model_dir), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    database = Database(db_url)
    try:
        with database.session() as session:
            suggestion = session.scalars(select(Case.suggestion)).one()
    finally:
        database.dispose()
    assert suggestion is not None and suggestion["L1"]["source"] == "model"
