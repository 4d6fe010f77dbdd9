"""A tiny end-to-end training run on a synthetic cache: predictions, model folder, resume."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fracturelab.spine.learned.experiment as experiment
from fracturelab import __version__
from fracturelab.errors import InputError
from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.data import CacheIndex, load_patches
from fracturelab.spine.learned.experiment import PREDICTION_COLUMNS, train_spine
from fracturelab.training.config import TrainConfig
from tests.spine.learned.synthetic_cache import write_cache

CONFIG = SpineTrainingConfig(
    n_folds=2,
    test_fraction=0.25,
    model_size="tiny",
    training=TrainConfig(max_epochs=2, batch_size=8, device="cpu"),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("spine-run")
    cache = write_cache(root / "cache", n_patients=12)
    train_spine(cache, root / "run", CONFIG, show_progress=False, n_bootstrap=200)
    return cache, root / "run"


def _predictions(run: Path) -> list[dict[str, str]]:
    with (run / "predictions.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_predictions_cover_every_graded_vertebra(run: tuple[Path, Path]) -> None:
    _, folder = run
    rows = _predictions(folder)
    assert tuple(rows[0]) == PREDICTION_COLUMNS
    assert len(rows) == 12 * 6
    assert {r["split"] for r in rows} == {"validation", "test"}
    assert {r["fold"] for r in rows if r["split"] == "validation"} == {"0", "1"}
    assert {r["fold"] for r in rows if r["split"] == "test"} == {""}
    for row in rows:
        p = [float(row[f"p{g}"]) for g in range(4)]
        assert sum(p) == pytest.approx(1.0, abs=1e-5)
        assert float(row["p_grade_ge2"]) == pytest.approx(p[2] + p[3], abs=1e-5)
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(row["patient_id"], set()).add(row["split"] + row["fold"])
    assert all(len(s) == 1 for s in sides.values()), "a patient crosses splits"


def test_model_folder_records_its_training(run: tuple[Path, Path]) -> None:
    _, folder = run
    description = json.loads((folder / "models/best/spine_model.json").read_text())
    assert description["task"] == "spine"
    assert description["fracturelab_version"] == __version__
    assert description["backbone"] == "cnn"
    assert description["patch_shape"] == [16, 16, 16]
    assert description["channels"] == ["ct", "mask", "neighbours"]
    assert description["weights"] == ["fold0.pt", "fold1.pt"]
    assert description["training_data"]["patients"] == 12
    assert description["training_data"]["vertebrae"] == 72
    assert set(description["metrics"]) >= {"validation_out_of_fold", "test", "threshold"}
    assert json.loads((folder / "config.json").read_text())["model_size"] == "tiny"


def test_every_report_artefact_is_written(run: tuple[Path, Path]) -> None:
    _, folder = run
    for name in ("report.md", "report.html", "metrics.json", "metrics.csv"):
        assert (folder / name).stat().st_size > 0, name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["worst_errors"]
    gallery = sorted((folder / "figures" / "gallery").glob("*.png"))
    assert len(gallery) == len(metrics["worst_errors"])
    markdown = (folder / "report.md").read_text()
    assert "truth grade" in markdown  # the gallery captions
    assert len(list((folder / "figures").glob("*.png"))) >= 3  # ROC, calibration, confusion


def test_loaded_model_reproduces_the_test_predictions(run: tuple[Path, Path]) -> None:
    cache, folder = run
    rows = [r for r in _predictions(folder) if r["split"] == "test"]
    records = CacheIndex.read(cache).records()
    by_key = {(r.case_id, r.level): i for i, r in enumerate(records)}
    patches = load_patches(records)
    model = SpineModel.load(folder / "models/best")
    outputs = model.predict([patches[by_key[(r["case_id"], r["level"])]] for r in rows])
    expected = np.array([float(r["fracture_probability"]) for r in rows])
    assert np.allclose(outputs.fracture_probability, expected, atol=1e-5)
    assert outputs.predicted_grade.tolist() == [int(r["predicted_grade"]) for r in rows]


def test_rerun_trains_nothing(run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cache, folder = run
    before = (folder / "predictions.csv").read_text()
    original = experiment.fit
    calls: list[bool] = []

    def counting(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(result.resumed)
        return result

    monkeypatch.setattr(experiment, "fit", counting)
    monkeypatch.setattr("fracturelab.training.trainer.torch.optim.AdamW", _no_training)
    train_spine(cache, folder, CONFIG, show_progress=False, report=False)
    assert calls == [True, True]  # each fold loaded its finished checkpoint
    assert (folder / "predictions.csv").read_text() == before


def _no_training(*args: object, **kwargs: object) -> None:
    raise AssertionError("a finished run was trained again")


def test_other_settings_are_refused(run: tuple[Path, Path]) -> None:
    cache, folder = run
    with pytest.raises(InputError, match=r"\(n_folds differ\)") as error:
        train_spine(cache, folder, replace(CONFIG, n_folds=3), show_progress=False)
    assert "\n" not in str(error.value)


def test_interrupted_run_resumes_to_the_same_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped during fold 0's second epoch, a rerun continues from last.pt to the same result."""
    cache = write_cache(tmp_path / "cache", n_patients=12)
    config = replace(CONFIG, augment=False)
    whole = train_spine(cache, tmp_path / "whole", config, show_progress=False, report=False)

    original = experiment.fit

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        validate = kwargs["validate"]
        calls = []

        def stopping(model: Any) -> float:
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return float(validate(model))

        return original(*args, **{**kwargs, "validate": stopping})

    monkeypatch.setattr(experiment, "fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_spine(cache, tmp_path / "broken", config, show_progress=False, report=False)
    assert (tmp_path / "broken/checkpoints/fold0/last.pt").is_file()
    monkeypatch.setattr(experiment, "fit", original)
    resumed = train_spine(cache, tmp_path / "broken", config, show_progress=False, report=False)
    assert resumed.folds[0]["resumed"] is True
    assert [f["epochs_run"] for f in resumed.folds] == [f["epochs_run"] for f in whole.folds]
    first = [float(r["fracture_probability"]) for r in _predictions(tmp_path / "whole")]
    again = [float(r["fracture_probability"]) for r in _predictions(tmp_path / "broken")]
    assert np.allclose(first, again, atol=1e-4)


def test_no_graded_vertebra_is_one_line(tmp_path: Path) -> None:
    cache = write_cache(tmp_path / "cache", n_patients=2)
    index = cache / "index.csv"
    lines = index.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("genant_grade")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = ""
    index.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    with pytest.raises(InputError, match="no graded vertebra with a patch") as error:
        train_spine(cache, tmp_path / "run", CONFIG, show_progress=False)
    assert "\n" not in str(error.value)


def test_vit_with_fused_morphometry_runs_end_to_end(tmp_path: Path) -> None:
    """The ViT backbone, morphometry fusion and the ViT Grad-CAM gallery, briefly."""
    cache = write_cache(tmp_path / "cache", n_patients=12)
    config = replace(
        CONFIG,
        backbone="vit",
        fuse_morphometry=True,
        training=TrainConfig(max_epochs=1, max_steps=2, batch_size=8, device="cpu"),
    )
    run = train_spine(cache, tmp_path / "run", config, show_progress=False, n_bootstrap=100)
    model = SpineModel.load(run.model_dir)
    assert model.backbone == "vit"
    assert model.fuse_morphometry
    assert list((tmp_path / "run/figures/gallery").glob("*.png"))
