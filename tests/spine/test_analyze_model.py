"""``fracturelab spine analyze --model``: the model's outputs per vertebra, the final-grade rule.

The probabilities must be those the evaluation computes from the patch cache of the same
scan; the patches themselves must be the cache's, value for value.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.spine.dataset import read_dataset
from fracturelab.spine.learned.apply import GRADE_SOURCES, _grade_source, scan_inputs
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.data import CacheIndex, load_patches, morphometry_features
from fracturelab.spine.overview import _model_caption
from fracturelab.spine.patch_cache import prepare_cache
from fracturelab.spine.pipeline import analyze, load_inputs
from fracturelab.spine.report import MODEL_KEYS, SpineReport, VertebraResult
from fracturelab.synth.spine_set import make_spine_set
from tests.cli.helpers import one_line_error
from tests.spine.model_helpers import SPEC, tiny_spine_model

runner = CliRunner()


#: Small patches (12 voxels a side) keep the tiny networks fast on CPU.
@pytest.fixture(scope="module")
def phantom_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analyze-model-set")
    return make_spine_set(
        out, 2, seed=3, spacing_mm=(3, 3, 3), graded_share=1.0, unlabelled_share=0.0,
        fracture_share=1.0, scans_per_patient=(1, 1), levels="T12-L2", progress=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fused_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_spine_model(tmp_path_factory.mktemp("model") / "best", fuse=True)


@pytest.fixture(scope="module")
def cache(phantom_set: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cache")
    prepare_cache(read_dataset(phantom_set), folder, SPEC, show_progress=False)
    return folder


def _case(phantom_set: Path) -> tuple[str, Path, Path]:
    case = read_dataset(phantom_set).cases[0]
    assert case.vertebrae is not None
    return case.case_id, case.ct, case.vertebrae


def test_probabilities_reproduce_the_cached_patches(
    phantom_set: Path, fused_model: Path, cache: Path, tmp_path: Path
) -> None:
    case_id, ct, vertebrae = _case(phantom_set)
    out = tmp_path / "res"
    args = ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(vertebrae), "--out", str(out)]
    result = runner.invoke(app, [*args, "--model", str(fused_model)])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "vertebrae.json").read_text())
    records = [r for r in CacheIndex.read(cache).records() if r.case_id == case_id]
    assert len(records) == 3  # T12, L1, L2 all graded and cut
    model = SpineModel.load(fused_model)
    expected = model.predict(
        load_patches(records),
        [morphometry_features(r.height_loss_pct, r.morph_grade) for r in records],
    )
    by_level = {v["level"]: v for v in document["vertebrae"]}
    for k, record in enumerate(records):
        vertebra = by_level[record.level]
        assert abs(vertebra["fracture_probability"] - expected.fracture_probability[k]) <= 1e-4
        assert np.allclose(
            vertebra["model_grade_probabilities"], expected.grade_probabilities[k], atol=1e-4
        )
        assert vertebra["model_grade"] == int(expected.predicted_grade[k])
        assert vertebra["grade_source"] in GRADE_SOURCES
        assert vertebra["genant_grade"] == record.morph_grade  # morphometry decides
    summary = document["summary"]["model"]
    assert summary["folder"] == str(fused_model) and summary["backbone"] == "cnn"
    assert summary["fracturelab_version"] and "morphometry decides" in summary["grade_rule"]
    header = (out / "vertebrae.csv").read_text().splitlines()[0]
    assert header.endswith("model_morphology,grade_source")
    assert (out / "overview.png").stat().st_size > 0


def test_patches_equal_the_cache_value_for_value(
    phantom_set: Path, fused_model: Path, cache: Path
) -> None:
    case_id, ct, vertebrae = _case(phantom_set)
    ct_volume, label_map = load_inputs(ct, vertebrae)
    report = analyze(ct_volume, label_map)
    inputs = scan_inputs(SpineModel.load(fused_model), ct_volume, label_map, report)
    records = {r.level: r for r in CacheIndex.read(cache).records() if r.case_id == case_id}
    assert sorted(inputs.levels) == sorted(records)
    for level, array, features in zip(
        inputs.levels, inputs.arrays, inputs.morphometry, strict=True
    ):
        cached = np.load(records[level].patch).astype(np.float32)
        assert np.array_equal(array, cached), level
        record = records[level]
        assert np.array_equal(
            features, morphometry_features(record.height_loss_pct, record.morph_grade)
        )


def test_without_model_the_outputs_keep_schema_1_0(phantom_set: Path, tmp_path: Path) -> None:
    _, ct, vertebrae = _case(phantom_set)
    out = tmp_path / "plain"
    args = ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(vertebrae), "--out", str(out)]
    result = runner.invoke(app, [*args, "--no-overview", "-q"])
    assert result.exit_code == 0, result.output
    expected = analyze(ct, vertebrae)
    assert (out / "vertebrae.json").read_text() == expected.to_json()
    assert (out / "vertebrae.csv").read_text() == expected.to_csv()
    document = json.loads((out / "vertebrae.json").read_text())
    assert not set(MODEL_KEYS) & set(document["vertebrae"][0])
    assert "model" not in document["summary"] and "model" not in document
    assert "grade_source" not in (out / "vertebrae.csv").read_text()


def test_report_round_trip_keeps_the_model_keys() -> None:
    vertebra = VertebraResult("L1", 20, "graded", [0.0, 0.0, 0.0], 1.0, genant_grade=0)
    vertebra.model = {
        "fracture_probability": 0.9, "model_grade": 2,
        "model_grade_probabilities": [0.05, 0.05, 0.6, 0.3], "model_morphology": "wedge",
        "grade_source": "morphometry_flagged",
    }  # fmt: skip
    report = SpineReport([vertebra], "verse", "", model={"folder": "m", "backbone": "cnn"})
    again = SpineReport.from_dict(json.loads(report.to_json()))
    assert again.vertebrae[0].model == vertebra.model
    assert again.summary["model"] == {"folder": "m", "backbone": "cnn"}
    assert again.summary["n_model_flagged"] == 1
    assert (
        report.to_csv()
        .splitlines()[1]
        .endswith("0.9,2,0.05,0.05,0.6,0.3,wedge,morphometry_flagged")
    )


def _graded(grade: int | None) -> VertebraResult:
    status = "graded" if grade is not None else "incomplete"
    return VertebraResult("L1", 20, status, [0.0, 0.0, 0.0], 1.0, genant_grade=grade)


@pytest.mark.parametrize(
    ("morphometry", "model_grade", "p", "source", "warned"),
    [
        (0, 0, 0.10, "morphometry", False),  # agree
        (2, 1, 0.80, "morphometry", False),  # one grade apart: not flagged
        (1, 3, 0.99, "morphometry_flagged", True),  # two grades apart
        (3, 0, 0.05, "morphometry_flagged", True),  # three grades apart
        (0, 0, 0.40, "morphometry_flagged", True),  # P at the threshold on a grade-0 vertebra
        (0, 1, 0.39, "morphometry", False),  # below the threshold, one grade apart
        (None, 2, 0.90, "none", False),  # morphometry did not grade it: the grade stays null
    ],
)
def test_final_grade_rule(
    morphometry: int | None, model_grade: int, p: float, source: str, warned: bool
) -> None:
    found = {"model_grade": model_grade, "fracture_probability": p}
    got, warning = _grade_source(_graded(morphometry), found, threshold=0.40)
    assert got == source
    assert (warning is not None) == warned
    if warning:
        assert "\n" not in warning and "check" in warning


def test_overview_caption_shows_the_probability() -> None:
    vertebra = _graded(0)
    assert _model_caption(vertebra) == ""
    vertebra.model = {"fracture_probability": 0.934, "grade_source": "morphometry_flagged"}
    assert _model_caption(vertebra) == "  P 0.93 !"
    vertebra.model = {"fracture_probability": 0.05, "grade_source": "morphometry"}
    assert _model_caption(vertebra) == "  P 0.05"


def test_femur_model_folder_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    _, ct, vertebrae = _case(phantom_set)
    femur = tmp_path / "femur-run" / "models" / "best"
    femur.mkdir(parents=True)
    (femur / "model.json").write_text(json.dumps({"task": "femur-aff"}))
    result = runner.invoke(
        app,
        ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(vertebrae), "--out",
         str(tmp_path / "o"), "--model", str(femur)],
    )  # fmt: skip
    one_line_error(result, str(femur), "femur model", "runs/<spine run>/models/best")
    assert not (tmp_path / "o" / "vertebrae.json").exists()


def test_folder_without_model_file_is_one_line(
    phantom_set: Path, fused_model: Path, tmp_path: Path
) -> None:
    _, ct, vertebrae = _case(phantom_set)
    base = ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(vertebrae), "--out"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, [*base, str(tmp_path / "a"), "--model", str(empty)])
    one_line_error(result, str(empty), "no spine_model.json")
    broken = tmp_path / "broken"
    shutil.copytree(fused_model, broken)
    (broken / "fold1.pt").unlink()
    result = runner.invoke(app, [*base, str(tmp_path / "b"), "--model", str(broken)])
    one_line_error(result, "fold1.pt is missing", "incomplete")


def test_model_needing_the_mask_without_vertebrae_is_one_line(
    phantom_set: Path, fused_model: Path, tmp_path: Path
) -> None:
    _, ct, _ = _case(phantom_set)
    result = runner.invoke(
        app,
        ["spine", "analyze", "--ct", str(ct), "--out", str(tmp_path / "o"), "--model",
         str(fused_model)],
    )  # fmt: skip
    one_line_error(result, "--vertebrae is missing", str(fused_model), "vertebra mask")
    result = runner.invoke(app, ["spine", "analyze", "--ct", str(ct), "--out", str(tmp_path)])
    one_line_error(result, "--vertebrae is missing", "label map")


def test_model_without_patch_spec_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    _, ct, vertebrae = _case(phantom_set)
    folder = tiny_spine_model(tmp_path / "m")
    description = json.loads((folder / "spine_model.json").read_text())
    description["patch_spec"] = {}
    (folder / "spine_model.json").write_text(json.dumps(description))
    result = runner.invoke(
        app,
        ["spine", "analyze", "--ct", str(ct), "--vertebrae", str(vertebrae), "--out",
         str(tmp_path / "o"), "--model", str(folder)],
    )  # fmt: skip
    one_line_error(result, str(folder), "records no patch spec", "retrain")
