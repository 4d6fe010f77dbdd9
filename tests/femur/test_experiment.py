import csv
import json
import shutil
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch

from fracturelab.errors import InputError
from fracturelab.femur import localizers
from fracturelab.femur.config import ExperimentConfig
from fracturelab.femur.experiment import run_experiment
from fracturelab.femur.result import ExperimentResult
from fracturelab.training.trainer import FitResult
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
        errors = [float(r["error_mm"]) for r in located
                  if r["backbone"] == backbone and r["stage"] == "2"]  # fmt: skip
        assert metrics["localisation"][backbone]["test"]["all"]["median"] == pytest.approx(
            float(np.median(errors)), abs=2e-3
        )


def _youden_j(labels: list[int], scores: list[float], threshold: float) -> float:
    """Sensitivity + specificity - 1 of ``score >= threshold``, counted case by case."""
    tp = sum(1 for y, p in zip(labels, scores, strict=True) if y == 1 and p >= threshold)
    tn = sum(1 for y, p in zip(labels, scores, strict=True) if y == 0 and p < threshold)
    return tp / labels.count(1) + tn / labels.count(0) - 1


def test_threshold_comes_from_validation_only(tiny_run: ExperimentResult) -> None:
    """Each threshold is Youden's best cut of the out-of-fold predictions in probabilities.csv.

    Worked out here by trying every cut, not with the code's own function: the threshold lies
    half-way between two neighbouring distinct validation scores (or between 0 and the
    lowest), and no cut of the validation scores has a higher J.
    """
    with (tiny_run.out / "probabilities.csv").open() as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] != "test"]
    for (approach, backbone), threshold in tiny_run.thresholds.items():
        chosen = [r for r in rows if r["approach"] == approach and r["backbone"] == backbone]
        labels = [int(r["label"] == "AFF") for r in chosen]
        index = tiny_run.splits.development()
        scores = [float(v) for v in tiny_run.probabilities[(approach, backbone)][index]]
        assert [f"{v:.6f}" for v in scores] == [r["p_aff"] for r in chosen]
        distinct = [0.0, *sorted(set(scores))]
        cuts = [(low + high) / 2 for low, high in pairwise(distinct)]
        assert min(abs(threshold - cut) for cut in cuts) < 1e-9, (approach, backbone)
        best = max(_youden_j(labels, scores, cut) for cut in cuts)
        assert _youden_j(labels, scores, threshold) == pytest.approx(best)
    best_model = json.loads((tiny_run.out / "models" / "best" / "model.json").read_text())
    backbone = best_model["classifier"]["backbone"]
    assert best_model["threshold"] == pytest.approx(tiny_run.thresholds[("patch", backbone)])


def test_rerun_resumes_without_training(
    tiny_run: ExperimentResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rerun of a finished run loads every network; not one optimiser step is taken."""
    out = tmp_path / "copy"
    shutil.copytree(tiny_run.out, out)

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished network was trained again")

    resumed: dict[str, bool] = {}

    def recording_fit(*args: object, **kwargs: object) -> FitResult:
        outcome = real_fit(*args, **kwargs)
        resumed[str(kwargs["description"])] = outcome.resumed
        return outcome

    real_fit = localizers.fit
    monkeypatch.setattr(torch.optim, "AdamW", no_training)
    monkeypatch.setattr(localizers, "fit", recording_fit)
    again = run_experiment(tiny_run.manifest, out, TINY, show_progress=False)
    assert set(resumed) == set(tiny_run.history) and all(resumed.values()), resumed
    for key, p in tiny_run.probabilities.items():
        assert np.allclose(again.probabilities[key], p, atol=1e-6)


def test_rerun_with_other_settings_is_refused(tiny_run: ExperimentResult, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(tiny_run.out, out, ignore=shutil.ignore_patterns("checkpoints", "models"))
    other = ExperimentConfig(**{**TINY.__dict__, "n_folds": 3})
    with pytest.raises(InputError, match="other settings"):
        run_experiment(tiny_run.manifest, out, other, show_progress=False)
