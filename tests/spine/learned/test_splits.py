"""Patient-grouped splits: no patient on two sides, reuse, and the bad inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.spine.learned.data import CacheIndex
from fracturelab.spine.learned.splits import TEST, SpineSplits, make_spine_splits
from tests.spine.learned.synthetic_cache import write_cache


def test_no_patient_crosses_splits_and_every_split_has_both_kinds(tmp_path: Path) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=16, scans_per_patient=2)).records()
    splits = make_spine_splits(records, n_folds=3, test_fraction=0.25, seed=1)
    assignment = splits.assignment(records)
    sides: dict[str, set[str]] = {}
    for record, split in zip(records, assignment, strict=True):
        sides.setdefault(record.patient_id, set()).add(split)
    assert all(len(s) == 1 for s in sides.values())
    assert set(assignment) == {"fold0", "fold1", "fold2", TEST}
    for k in range(3):
        train, validation = splits.fold(records, k)
        assert not {records[i].patient_id for i in train} & {
            records[i].patient_id for i in validation
        }
    path = splits.write(tmp_path / "splits.csv")
    assert SpineSplits.read(path, records) == splits


def test_rereading_with_other_data_is_refused(tmp_path: Path) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=12)).records()
    path = make_spine_splits(records, 2).write(tmp_path / "splits.csv")
    with pytest.raises(InputError, match="another dataset"):
        SpineSplits.read(path, records[:-6])


def test_a_case_in_two_patients_is_one_line(tmp_path: Path) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=12)).records()
    records[1] = replace(records[1], patient_id="P05")
    with pytest.raises(InputError, match="case case00a belongs to two patients") as error:
        make_spine_splits(records, 2)
    assert "\n" not in str(error.value)


def test_no_fracture_and_too_few_patients(tmp_path: Path) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=12)).records()
    normal = [replace(r, genant_grade=0) for r in records]
    with pytest.raises(InputError, match="no fractured vertebra"):
        make_spine_splits(normal, 2)
    with pytest.raises(InputError, match="use fewer --folds"):
        make_spine_splits(records, 6)
    with pytest.raises(InputError, match="n_folds"):
        make_spine_splits(records, 1)
