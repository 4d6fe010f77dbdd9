"""Pseudo-labels: the confidence rule on hand-made cases, and no leak into validation or test."""

from __future__ import annotations

import csv
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

import fracturelab.spine.learned.experiment as experiment
from fracturelab.errors import InputError
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.data import INDEX_COLUMNS, CacheIndex, VertebraRecord
from fracturelab.spine.learned.pseudo_labels import (
    PseudoLabelRule,
    confident_grade,
    for_training,
    pseudo_records,
    teacher_filter,
)
from fracturelab.spine.learned.splits import TEST
from fracturelab.training.config import TrainConfig
from tests.spine.learned.synthetic_cache import write_cache

RULE = PseudoLabelRule(margin_pct=2.0)


@pytest.mark.parametrize(
    ("loss", "grade", "reason", "expected"),
    [
        (5.0, 0, "", 0),  # far below 20 %
        (17.9, 0, "", 0),  # 2.1 points below the 20 % cut
        (18.5, 0, "", None),  # 1.5 points from 20 %
        (21.0, 1, "", None),  # 1 point from 20 %
        (22.5, 1, "", 1),  # 2.5 points from both 20 and 25 %
        (26.0, 2, "", None),  # 1 point from 25 %
        (30.0, 2, "", 2),
        (39.0, 2, "", None),  # 1 point from 40 %
        (45.0, 3, "", 3),
        (30.0, None, "", None),  # morphometry did not grade it (status not graded)
        (math.nan, None, "", None),
        (30.0, 2, "cut by the field of view", None),  # a note from morphometry
    ],
)
def test_confidence_rule_hand_made_cases(
    loss: float, grade: int | None, reason: str, expected: int | None
) -> None:
    assert confident_grade(loss, grade, reason, RULE) == expected


def test_margin_zero_keeps_every_graded_vertebra_and_bad_settings_refused() -> None:
    assert confident_grade(20.0, 1, "", PseudoLabelRule(margin_pct=0.0)) == 1
    with pytest.raises(InputError, match="margin"):
        PseudoLabelRule(margin_pct=-1.0)
    with pytest.raises(InputError, match="weight"):
        PseudoLabelRule(weight=0.0)
    with pytest.raises(InputError, match="pseudo_weight"):
        SpineTrainingConfig(pseudo_weight=2.0)


def test_teacher_filter_keeps_confident_agreement() -> None:
    records = [VertebraRecord("c", "p", "L1", g, None, Path("x.npy"), 5.0, g) for g in (0, 2, 2)]
    probabilities = [[0.9, 0.1, 0, 0], [0.1, 0.1, 0.7, 0.1], [0.5, 0.1, 0.3, 0.1]]
    assert teacher_filter(records, probabilities, RULE) == [0, 1]


def _add_delineated(folder: Path) -> None:
    """Delineated scans: a second scan of graded patients P00-P11, and new patients P20-P23."""
    index = folder / "index.csv"
    with index.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    graded = [r for r in rows if r["tier"] == "graded" and r["patch"]]
    extra: list[dict[str, Any]] = []
    sources = [(f"P{p:02d}", f"case{p:02d}") for p in range(12)]
    sources += [(f"P{p:02d}", f"case{p - 20:02d}") for p in range(20, 24)]
    for patient, source in sources:
        case = f"del{patient}"
        for row in graded:
            if row["case_id"] != f"{source}a":
                continue
            name = f"patches/{case}_{row['level']}.npy"
            shutil.copy(folder / row["patch"], folder / name)
            extra.append(
                {**row, "case_id": case, "patient_id": patient, "tier": "delineated",
                 "genant_grade": "", "morphology": "", "fracture": "", "patch": name}
            )  # fmt: skip
    with index.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, INDEX_COLUMNS)
        writer.writeheader()
        writer.writerows(rows + extra)


def test_pseudo_labels_never_in_validation_or_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = write_cache(tmp_path / "cache", n_patients=12)
    _add_delineated(cache)
    pseudo = pseudo_records(CacheIndex.read(cache), RULE)
    assert pseudo and {r.case_id[:3] for r in pseudo} == {"del"}
    trained: list[list[VertebraRecord]] = []
    original = experiment.VertebraDataset

    def spy(records: list[VertebraRecord], *args: Any, **kwargs: Any) -> Any:
        trained.append(list(records))
        return original(records, *args, **kwargs)

    monkeypatch.setattr(experiment, "VertebraDataset", spy)
    config = SpineTrainingConfig(
        n_folds=2, test_fraction=0.25, model_size="tiny", pseudo_labels=True,
        training=TrainConfig(max_epochs=1, max_steps=1, batch_size=8, device="cpu"),
    )  # fmt: skip
    run = experiment.train_spine(cache, tmp_path / "run", config, show_progress=False, report=False)
    graded = CacheIndex.read(cache).records()
    test_patients = {r.patient_id for r in graded if run.splits.case_split[r.case_id] == TEST}
    assert len(trained) == 2
    for k, items in enumerate(trained):
        held = test_patients | {
            r.patient_id for r in graded if run.splits.case_split[r.case_id] == f"fold{k}"
        }
        pseudo_items = [r for r in items if r.case_id.startswith("del")]
        assert pseudo_items, "the fold trained on no pseudo-label"
        assert not {r.patient_id for r in pseudo_items} & held, "pseudo-label of a held-out patient"
        # patients with only delineated scans train in every fold
        assert {"P20", "P21", "P22", "P23"} <= {r.patient_id for r in pseudo_items}
        # a training patient's delineated scan is used
        assert {r.patient_id for r in pseudo_items} - {"P20", "P21", "P22", "P23"}
    assert [f["pseudo_labelled"] for f in run.folds] == [
        len([r for r in t if r.case_id.startswith("del")]) for t in trained
    ]
    with run.predictions.open(encoding="utf-8", newline="") as handle:
        predicted = {row["case_id"] for row in csv.DictReader(handle)}
    assert not any(case.startswith("del") for case in predicted)
    held_patients = {"P00", "P01"}
    assert all(
        pseudo[i].patient_id not in held_patients for i in for_training(pseudo, held_patients)
    )
