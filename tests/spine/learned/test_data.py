"""The cache index, the dataset and its anatomy-respecting augmentation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from fracturelab.errors import InputError
from fracturelab.spine.learned.data import (
    CacheIndex,
    VertebraDataset,
    load_patches,
    morphometry_features,
    summarise,
)
from fracturelab.spine.learned.losses import imbalance_weights
from tests.spine.learned.synthetic_cache import write_cache


def _rewrite(folder: Path, change: dict[str, str], line: int = 0) -> None:
    index = folder / "index.csv"
    with index.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[line].update(change)
    with index.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_records_skip_failed_rows_and_summarise(tmp_path: Path) -> None:
    cache = CacheIndex.read(write_cache(tmp_path, n_patients=4))
    records = cache.records()
    assert len(records) == 4 * 6
    assert [r["reason"] for r in cache.skipped()] == ["CT unreadable"]
    summary = summarise(records)
    assert summary["patients"] == 4
    assert sum(summary["vertebrae_per_grade"].values()) == 24
    assert summary["vertebrae_per_morphology"]["unknown"] == 4


def test_grade_outside_range_is_one_line(tmp_path: Path) -> None:
    folder = write_cache(tmp_path, n_patients=2)
    _rewrite(folder, {"genant_grade": "4"})
    with pytest.raises(InputError, match=r"line 2: genant_grade '4' is outside 0-3") as error:
        CacheIndex.read(folder).records()
    assert "\n" not in str(error.value)


def test_missing_index_and_columns(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"index\.csv does not exist"):
        CacheIndex.read(tmp_path)
    (tmp_path / "index.csv").write_text("case_id,level\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks the column"):
        CacheIndex.read(tmp_path)


def test_items_and_targets(tmp_path: Path) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=2)).records()
    patches = load_patches(records)
    item = VertebraDataset(records, patches)[1]  # T12 of a fractured patient
    assert item["patch"].shape == (3, 16, 16, 16)
    assert item["patch"].dtype == torch.float32
    assert int(item["grade"]) == records[1].genant_grade >= 1
    assert float(item["fracture"]) == 1.0
    assert int(item["morphology"]) == 1  # wedge
    assert int(VertebraDataset(records, patches)[4]["morphology"]) == -1  # unknown


def test_augmentation_keeps_the_superior_axis(tmp_path: Path) -> None:
    """Rotation is about D only and no D / H flip: the mask's extent along D is unchanged."""
    records = CacheIndex.read(write_cache(tmp_path, n_patients=2)).records()
    patches = load_patches(records)
    dataset = VertebraDataset(records, patches, augment=True, max_shift_vox=0.0, seed=3)
    original = patches[0][1]
    profile = original.sum(axis=(1, 2))
    front = original.sum(axis=(0, 2))
    for _ in range(5):
        moved = dataset[0]["patch"][1].numpy()
        assert np.allclose(moved.sum(axis=(1, 2)), profile, atol=0.15 * profile.max())
        # a wedge's anterior half stays anterior (no H flip): compare halves
        halves = moved.sum(axis=(0, 2))
        assert (halves[8:].sum() - halves[:8].sum()) * (front[8:].sum() - front[:8].sum()) >= 0


def test_morphometry_features_and_weights() -> None:
    assert morphometry_features(30.0, 2).tolist() == pytest.approx([0.3, 2 / 3])
    assert morphometry_features(float("nan"), None).tolist() == [0.0, 0.0]
    # 6 normal, 2 fractured (grades 1, 3): pos_weight 3; tasks >0: 6/2, >1: 7/1, >2: 7/1.
    fracture, tasks, classes = imbalance_weights([0] * 6 + [1, 3], [0] * 6 + [1, -1])
    assert fracture == 3.0
    assert tasks == [3.0, 7.0, 7.0]
    assert classes == pytest.approx([7 / 12, 7 / 2, 0.0, 0.0])


def test_graded_level_missing_from_the_mask_is_one_line(tmp_path: Path) -> None:
    folder = write_cache(tmp_path, n_patients=2)
    _rewrite(folder, {"status": "missing", "patch": "", "level": "L5"}, line=3)
    with pytest.raises(InputError, match="graded at L5, which its label map lacks") as error:
        CacheIndex.read(folder).records()
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("damage", ["truncated", "missing", "not npy"])
def test_damaged_patch_is_one_line_naming_the_file(tmp_path: Path, damage: str) -> None:
    records = CacheIndex.read(write_cache(tmp_path, n_patients=4)).records()
    path = Path(records[1].patch)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "missing":
        path.unlink()
    else:
        path.write_bytes(b"\x00" * 500)
    with pytest.raises(InputError, match=rf"{path.name}: the patch cannot be read .* rerun") as e:
        load_patches(records)
    assert "\n" not in str(e.value)
