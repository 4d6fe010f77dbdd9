"""The spine model report: every artefact, the numbers in it, cautions and the gallery."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.outputs import pyplot, save_figure
from fracturelab.spine.learned.evaluation import evaluate
from fracturelab.spine.learned.report import write_report
from tests.spine.learned.hand_table import hand_rows


def _no_nan(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in metrics.json")

    return json.loads(text, parse_constant=refuse)


def _png(path: Path) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    return save_figure(fig, path, dpi=20)


def _table(n_patients: int, seed: int, *, invert_test: bool = False) -> list[dict[str, Any]]:
    """Patients with 3 vertebrae each; a fractured vertebra gets a higher probability."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("validation", "test"):
        for k in range(n_patients):
            patient = f"{split[0]}{k:03d}"
            for level in ("T12", "L1", "L2"):
                grade = int(rng.choice(4, p=(0.7, 0.1, 0.1, 0.1)))
                signal = grade / 3 if not (invert_test and split == "test") else 1 - grade / 3
                p1 = float(np.clip(0.15 + 0.7 * signal + rng.normal(0, 0.1), 0, 1))
                p2 = p1 * 0.8
                loss = 10 + 9 * grade + rng.normal(0, 4)
                rows.append({
                    "case_id": f"{patient}-ct", "patient_id": patient, "level": level,
                    "split": split, "fold": str(k % 3) if split == "validation" else "",
                    "genant_grade": grade, "morphology": "wedge" if grade else "normal",
                    "fracture_probability": p1, "p_grade_ge2": p2, "p0": 1 - p1,
                    "p1": p1 - p2, "p2": p2, "p3": 0.0, "predicted_grade": min(grade, 3),
                    "predicted_morphology": "wedge" if grade else "normal",
                    "height_loss_pct": loss, "morph_grade": int(np.digitize(loss, (20, 25, 40))),
                })  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("report")
    gallery = [("A L1: missed wedge", _png(folder.parent / "gradcam.png"))]
    return folder, write_report(hand_rows(), folder / "out", n_boot=200, gallery=gallery)


def test_every_artefact_is_written(report: tuple[Path, dict[str, Path]]) -> None:
    _, paths = report
    expected = {
        "metrics_json", "metrics_csv", "report_md", "report_html", "calibration", "confusion",
        "roc_ge1_vertebra", "roc_ge1_patient", "roc_ge2_vertebra", "roc_ge2_patient",
        "gallery_1",
    }  # fmt: skip
    assert set(paths) == expected
    for path in paths.values():
        assert path.is_file() and path.stat().st_size > 0
    for key in expected - {"metrics_json", "metrics_csv", "report_md", "report_html"}:
        assert paths[key].read_bytes().startswith(b"\x89PNG")


def test_metrics_json_and_csv_hold_the_hand_values(report: tuple[Path, dict[str, Path]]) -> None:
    _, paths = report
    metrics = _no_nan(paths["metrics_json"].read_text())
    key = ("model", "ge1", "vertebra", "test")
    model = next(
        r for r in metrics["binary"] if (r["method"], r["target"], r["level"], r["split"]) == key
    )
    assert model["auc"] == pytest.approx(0.75)  # worked out in test_evaluation_protocol
    assert metrics["figures"]["confusion"] == "figures/confusion.png"
    with paths["metrics_csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = ("section", "method", "target", "level", "split", "metric")
    auc = [r for r in rows if tuple(r[f] for f in fields) == ("binary", *key, "auc")]
    assert len(auc) == 1 and float(auc[0]["value"]) == pytest.approx(0.75)
    kappa = [r for r in rows if r["metric"] == "kappa_quadratic" and r["method"] == "model"
             and r["split"] == "test"]  # fmt: skip
    assert float(kappa[0]["value"]) == pytest.approx(8 / 11)
    confusion = [r for r in rows if r["metric"] == "confusion_true2_pred3" and r["split"] == "test"]
    assert confusion[0]["value"] == "1"


def test_markdown_and_html_say_the_same(report: tuple[Path, dict[str, Path]]) -> None:
    folder, paths = report
    markdown = paths["report_md"].read_text()
    page = paths["report_html"].read_text()
    for text in ("Fracture detection", "Paired comparisons (DeLong test)", "Worst errors",
                 "Cautions", "A L1: missed wedge", "0.750 [", "Youden"):  # fmt: skip
        assert text in markdown and text in page, text
    links = [line.split("](")[1].rstrip(")") for line in markdown.splitlines() if "](" in line]
    assert links and all((folder / "out" / link).is_file() for link in links)
    assert page.count("data:image/png;base64,") == len(links)  # self-contained
    assert 'src="figures/' not in page


def test_small_sample_cautions_are_stated(report: tuple[Path, dict[str, Path]]) -> None:
    _, paths = report
    cautions = _no_nan(paths["metrics_json"].read_text())["cautions"]
    text = " ".join(cautions)
    # Test set, grade >= 1: patients A and B positive, C and D negative: C(4, 2) = 6.
    assert "small test set for grade >= 1: 2 positive and 2 negative patients" in text
    assert "probability 1 in 6" in text
    assert "1 test vertebrae have no height loss" in text
    # Morphometry separates the test vertebrae perfectly: every resample gives AUC 1.
    flat = next(c for c in cautions if c.startswith("bootstrap 95 % interval of zero width"))
    assert "morphometry grade >= 1 per vertebra test," in flat
    assert "Cautions" in paths["report_md"].read_text()


def test_enough_patients_no_small_sample_caution(tmp_path: Path) -> None:
    evaluation = evaluate(_table(40, seed=1), n_boot=200)
    assert not [c for c in evaluation["cautions"] if c.startswith("small")]
    paths = write_report(evaluation, tmp_path / "out")
    assert "small sample" not in paths["report_md"].read_text()


def test_validation_and_test_disagreeing_is_stated(tmp_path: Path) -> None:
    evaluation = evaluate(_table(30, seed=2, invert_test=True), n_boot=200)
    assert any(
        c.startswith("validation and test disagree for model") for c in evaluation["cautions"]
    )


def test_bad_gallery_and_out_dir_are_one_line(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    cases = [
        ({"gallery": [("x", tmp_path / "missing.png")]}, "missing.png: file not found"),
        ({"gallery": [("x", text)]}, "notes.txt: not a PNG file"),
        ({"gallery": ["just a path"]}, "gallery[0]='just a path' is not valid"),
    ]
    for options, expected in cases:
        with pytest.raises(InputError) as caught:
            write_report(hand_rows(), tmp_path / "out", n_boot=10, **options)
        assert expected in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InputError, match=r"out_dir .*notes\.txt: is a file"):
        write_report(hand_rows(), text, n_boot=10)


def test_without_any_height_loss_the_model_is_still_reported(tmp_path: Path) -> None:
    rows = [{**r, "height_loss_pct": "", "morph_grade": ""} for r in _table(12, seed=3)]
    paths = write_report(rows, tmp_path / "out", n_boot=100)
    metrics = _no_nan(paths["metrics_json"].read_text())
    morph = [r for r in metrics["binary"] if r["method"] == "morphometry"]
    assert morph and all(r["unavailable"] == "no vertebra scored" for r in morph)
    assert all("unavailable" in c for c in metrics["comparisons"])
    assert metrics["combination"]["ge1"]["unavailable"].startswith("the 0 validation")
    assert paths["roc_ge1_vertebra"].is_file()  # the model's curve alone
    assert "no AUC: no vertebra scored" in paths["report_md"].read_text()
