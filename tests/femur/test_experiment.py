import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.experiment import ExperimentResult, run_experiment
from tests.femur.builders import TINY


def test_every_report_artefact_exists(tiny_run: ExperimentResult) -> None:
    out = tiny_run.out
    for name in ["report.md", "report.html", "metrics.json", "classification.csv",
                 "localisation_summary.csv", "comparisons.csv", "localisation.csv",
                 "probabilities.csv", "splits.csv", "config.json"]:  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    for figure in ["roc_test_images", "roc_test_patients", "calibration_test",
                   "localisation_test", "examples_test", "gradcam_test"]:  # fmt: skip
        assert (out / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG", figure
    report = (out / "report.md").read_text()
    for figure in ("roc_test_images.png", "gradcam_test.png", "examples_test.png"):
        assert f"figures/{figure}" in report
    html = (out / "report.html").read_text()
    assert "<table>" in html and "gradcam_test.png" in html
    for model in ("best", "patch-cnn", "patch-vit", "downsample-cnn", "downsample-vit"):
        assert (out / "models" / model / "model.json").is_file()


def test_no_patient_crosses_splits_in_the_run(tiny_run: ExperimentResult) -> None:
    with (tiny_run.out / "splits.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    where = defaultdict(set)
    for row in rows:
        where[row["patient_id"]].add(row["split"])
    assert all(len(splits) == 1 for splits in where.values())
    assert {r["split"] for r in rows} == {"fold0", "fold1", "test"}


def test_metrics_agree_with_the_prediction_files(tiny_run: ExperimentResult) -> None:
    from sklearn.metrics import roc_auc_score

    metrics = json.loads((tiny_run.out / "metrics.json").read_text())
    with (tiny_run.out / "probabilities.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    for name in ("patch-cnn", "downsample-vit"):
        approach, backbone = name.split("-")
        chosen = [r for r in rows if r["approach"] == approach and r["backbone"] == backbone]
        y = [r["label"] == "AFF" for r in chosen]
        p = [float(r["p_aff"]) for r in chosen]
        expected = roc_auc_score(y, p)
        assert metrics["classification"]["image"][name]["test"]["auc"] == pytest.approx(
            expected, abs=1e-5
        )
    with (tiny_run.out / "localisation.csv").open() as handle:
        located = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    for backbone in ("cnn", "vit"):
        errors = [float(r["error_mm"]) for r in located if r["backbone"] == backbone]
        assert metrics["localisation"][backbone]["test"]["all"]["median"] == pytest.approx(
            float(np.median(errors)), abs=2e-3
        )


def test_threshold_comes_from_validation_only(tiny_run: ExperimentResult) -> None:
    from fracturelab.evaluation import choose_threshold

    development = tiny_run.splits.development()
    for key, p in tiny_run.probabilities.items():
        expected = choose_threshold(tiny_run.labels[development], p[development])
        assert tiny_run.thresholds[key] == pytest.approx(expected)
    best = json.loads((tiny_run.out / "models" / "best" / "model.json").read_text())
    backbone = best["classifier"]["backbone"]
    assert best["threshold"] == pytest.approx(tiny_run.thresholds[("patch", backbone)])


def test_rerun_resumes_without_training(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(tiny_run.out, out)
    again = run_experiment(tiny_run.manifest, out, TINY, show_progress=False)
    for key, p in tiny_run.probabilities.items():
        assert np.allclose(again.probabilities[key], p, atol=1e-6)


def test_rerun_with_other_settings_is_refused(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(tiny_run.out, out, ignore=shutil.ignore_patterns("checkpoints", "models"))
    other = ExperimentConfig(**{**TINY.__dict__, "n_folds": 3})
    with pytest.raises(InputError, match="other settings"):
        run_experiment(tiny_run.manifest, out, other, show_progress=False)
