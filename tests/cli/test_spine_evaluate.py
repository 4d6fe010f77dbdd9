"""``fracturelab spine evaluate``: a model folder on a graded phantom set, and its errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.data import CacheIndex, load_patches
from fracturelab.synth.spine_set import make_spine_set
from tests.cli.helpers import one_line_error
from tests.spine.model_helpers import tiny_spine_model

runner = CliRunner()


@pytest.fixture(scope="module")
def phantom_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evaluate-set")
    return make_spine_set(
        out, 4, seed=11, spacing_mm=(3, 3, 3), graded_share=1.0, unlabelled_share=0.0,
        fracture_share=0.5, scans_per_patient=(1, 1), levels="T12-L2", progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_spine_model(tmp_path_factory.mktemp("model") / "best", threshold=0.42)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_evaluate_writes_predictions_and_report(
    phantom_set: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    result = runner.invoke(
        app,
        ["spine", "evaluate", "--dataset", str(phantom_set), "--model", str(model_dir), "--out",
         str(out), "--bootstrap", "50", "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Report:" in result.output and "quadratic kappa" in result.output
    rows = _rows(out / "predictions.csv")
    graded = _rows(phantom_set.parent / "grades.csv")
    assert len(rows) == len(graded)
    assert {r["split"] for r in rows} == {"test"} and {r["fold"] for r in rows} == {""}
    assert {(r["case_id"], r["level"], r["genant_grade"]) for r in rows} == {
        (g["case_id"], g["level"], g["genant_grade"]) for g in graded
    }
    # The probabilities are the model's on the cache's patches (mean of the folds).
    records = CacheIndex.read(out / "cache").records()
    expected = SpineModel.load(model_dir).predict(load_patches(records))
    got = {(r["case_id"], r["level"]): float(r["fracture_probability"]) for r in rows}
    for k, record in enumerate(records):
        assert abs(got[(record.case_id, record.level)] - expected.fracture_probability[k]) < 1e-5
    for name in ("report.md", "report.html", "metrics.json", "metrics.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["thresholds"]["model_ge1"] == {"value": 0.42, "source": "given"}
    assert any(r["method"] == "morphometry" for r in metrics["binary"])
    assert list((out / "figures" / "gallery").glob("*.png"))
    provenance = json.loads((out / "evaluated_model.json").read_text())
    assert provenance["model"]["folder"] == str(model_dir)
    assert provenance["vertebrae"] == len(rows)
    # A rerun reuses the cache and gives the same table.
    again = runner.invoke(
        app,
        ["spine", "evaluate", "--dataset", str(phantom_set), "--model", str(model_dir), "--out",
         str(out), "--bootstrap", "50", "--no-gallery", "-q"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert _rows(out / "predictions.csv") == rows


def test_dataset_without_fracture_is_one_line(
    phantom_set: Path, model_dir: Path, tmp_path: Path
) -> None:
    grades = tmp_path / "grades.csv"
    rows = _rows(phantom_set.parent / "grades.csv")
    with grades.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "genant_grade": "0", "morphology": "normal"} for r in rows)
    result = runner.invoke(
        app,
        ["spine", "evaluate", "--dataset", str(phantom_set), "--grades", str(grades), "--model",
         str(model_dir), "--out", str(tmp_path / "eval")],
    )  # fmt: skip
    one_line_error(result, "no fracture", "add scans with graded fractures")


def test_level_not_in_the_mask_is_one_line(
    phantom_set: Path, model_dir: Path, tmp_path: Path
) -> None:
    grades = tmp_path / "grades.csv"
    rows = _rows(phantom_set.parent / "grades.csv")
    rows[0] = {**rows[0], "level": "L5"}
    with grades.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = runner.invoke(
        app,
        ["spine", "evaluate", "--dataset", str(phantom_set), "--grades", str(grades), "--model",
         str(model_dir), "--out", str(tmp_path / "eval"), "-q"],
    )  # fmt: skip
    one_line_error(result, "L5", rows[0]["case_id"])


def test_femur_model_folder_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    femur = tmp_path / "femur"
    femur.mkdir()
    (femur / "model.json").write_text(json.dumps({"task": "femur-aff"}))
    result = runner.invoke(
        app,
        ["spine", "evaluate", "--dataset", str(phantom_set), "--model", str(femur), "--out",
         str(tmp_path / "eval")],
    )  # fmt: skip
    one_line_error(result, str(femur), "femur model")


def test_cache_cut_another_way_is_one_line(
    phantom_set: Path, model_dir: Path, tmp_path: Path
) -> None:
    other = tiny_spine_model(tmp_path / "other")
    description = json.loads((other / "spine_model.json").read_text())
    description["patch_spec"]["spec"]["window_hu"] = [-100.0, 1000.0]
    (other / "spine_model.json").write_text(json.dumps(description))
    cache = tmp_path / "cache"
    base = ["spine", "evaluate", "--dataset", str(phantom_set), "--cache", str(cache), "-q"]
    first = runner.invoke(
        app, [*base, "--model", str(model_dir), "--out", str(tmp_path / "a"), "--no-gallery"]
    )
    assert first.exit_code == 0, first.output
    result = runner.invoke(app, [*base, "--model", str(other), "--out", str(tmp_path / "b")])
    one_line_error(result, "--cache", "use another folder")


def test_model_probabilities_are_not_nan(phantom_set: Path, model_dir: Path) -> None:
    """The untrained test model still gives valid probabilities (guards the fixtures)."""
    model = SpineModel.load(model_dir)
    patch = np.zeros((3, *model.shape), np.float32)
    outputs = model.predict([patch])
    assert np.isfinite(outputs.fracture_probability).all()
