from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.femur.manifest import Manifest
from fracturelab.femur.splits import TEST, Splits, make_splits
from tests.femur.builders import balanced_rows, write_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    rows = []
    rng = np.random.default_rng(3)
    for p in range(60):  # 1-4 images per patient, 25 % AFF patients
        label = "AFF" if p % 4 == 0 else "NFF"
        for i in range(int(rng.integers(1, 5))):
            rows.append({"image": f"img/p{p}_{i}.png", "patient_id": f"P{p}", "label": label,
                         "center_x": 5, "center_y": 5})  # fmt: skip
    return Manifest.read(write_manifest(tmp_path, rows))


def test_no_patient_crosses_splits(manifest: Manifest) -> None:
    splits = make_splits(manifest, n_folds=4, test_fraction=0.2, seed=1)
    where = defaultdict(set)
    for patient, split in zip(splits.patients, splits.assignment, strict=True):
        where[patient].add(split)
    assert all(len(s) == 1 for s in where.values())  # checked independently of the guard
    for k in range(4):
        train, val = splits.fold(k)
        assert not {splits.patients[i] for i in train} & {splits.patients[i] for i in val}
        assert not set(train) & set(splits.indices(TEST))


def test_every_split_is_stratified_and_sized(manifest: Manifest) -> None:
    splits = make_splits(manifest, n_folds=4, test_fraction=0.2, seed=1)
    test_patients = {splits.patients[i] for i in splits.indices(TEST)}
    assert 8 <= len(test_patients) <= 16  # about a fifth of 60 patients
    for row in splits.summary():
        assert 0 < row["aff_images"] < row["images"]
    assert len(splits.development()) + len(splits.indices(TEST)) == len(manifest)


def test_guard_catches_a_crossing_patient() -> None:
    splits = Splits(("a", "b"), ("P1", "P1"), ("AFF", "AFF"), ("fold0", TEST), 1)
    with pytest.raises(AssertionError, match="P1"):
        splits.check_patients_disjoint()


def test_round_trip_and_reuse(manifest: Manifest, tmp_path: Path) -> None:
    splits = make_splits(manifest, n_folds=3, seed=2)
    path = splits.write(tmp_path / "run" / "splits.csv")
    again = Splits.read(path, manifest)
    assert again == splits


def test_reuse_refuses_another_manifest(manifest: Manifest, tmp_path: Path) -> None:
    path = make_splits(manifest, n_folds=3).write(tmp_path / "splits.csv")
    other = Manifest(manifest.path, manifest.rows[1:])
    with pytest.raises(InputError, match="another manifest"):
        Splits.read(path, other)


def test_seed_changes_the_split(manifest: Manifest) -> None:
    assert make_splits(manifest, 3, seed=0) != make_splits(manifest, 3, seed=5)


def test_all_one_class_is_refused(tmp_path: Path) -> None:
    rows = [r | {"label": "NFF"} for r in balanced_rows(12)]
    manifest = Manifest.read(write_manifest(tmp_path, rows))
    with pytest.raises(InputError, match="every patient is NFF"):
        make_splits(manifest, 3)


def test_too_few_rare_patients(tmp_path: Path) -> None:
    manifest = Manifest.read(write_manifest(tmp_path, balanced_rows(8, aff_every=4)))  # 2 AFF
    with pytest.raises(InputError, match="fewer --folds"):
        make_splits(manifest, 3)


@pytest.mark.parametrize(("folds", "fraction"), [(1, 0.2), (3, 0.0), (3, 0.7)])
def test_bad_arguments(manifest: Manifest, folds: int, fraction: float) -> None:
    with pytest.raises(InputError, match="not valid"):
        make_splits(manifest, folds, fraction)


def test_refold_keeps_the_test_set_and_deals_the_development_patients_again(
    manifest: Manifest,
) -> None:
    splits = make_splits(manifest, n_folds=4, test_fraction=0.2, seed=1)
    again = splits.refold(7)
    test = np.asarray(splits.assignment) == TEST
    assert (np.asarray(again.assignment) == TEST).tolist() == test.tolist()
    again.check_patients_disjoint()
    assert again.assignment != splits.assignment  # other folds
    for k in range(4):  # every fold keeps both classes (stratified)
        labels = {again.labels[i] for i in again.indices(f"fold{k}")}
        assert labels == {"AFF", "NFF"}
    assert splits.refold(7) == again  # deterministic
