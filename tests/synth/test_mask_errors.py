"""Segmentation errors put into the phantom's label map on purpose (the CT stays true)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from fracturelab.errors import InputError
from fracturelab.synth import SpinePhantom, make_spine_phantom

CROSS = ndimage.generate_binary_structure(3, 1)
KWARGS: dict[str, Any] = {
    "levels": "T12-L2",
    "fractures": "L1:2:wedge",
    "spacing_mm": (2.0, 2.0, 2.0),
    "seed": 5,
}


@pytest.fixture(scope="module")
def clean() -> SpinePhantom:
    return make_spine_phantom(**KWARGS)


def spoiled(kind: str) -> SpinePhantom:
    return make_spine_phantom(**KWARGS, mask_error=kind)


def labels_of(phantom: SpinePhantom) -> list[int]:
    return [entry["label"] for entry in phantom.truth["vertebrae"]]


@pytest.mark.parametrize("kind", ["dilate", "erode", "ragged", "missing-process"])
def test_only_the_label_map_changes(clean: SpinePhantom, kind: str) -> None:
    built = spoiled(kind)
    assert np.array_equal(built.ct.array, clean.ct.array)
    assert built.truth["vertebrae"] == [
        {**entry, **({"missing_process": e["missing_process"]} if "missing_process" in e else {})}
        for entry, e in zip(clean.truth["vertebrae"], built.truth["vertebrae"], strict=True)
    ]
    assert built.truth["parameters"]["mask_error"] == kind
    assert clean.truth["parameters"]["mask_error"] == "none"
    assert not np.array_equal(built.vertebrae.array, clean.vertebrae.array)


def test_dilate_grows_every_label_by_one_voxel_layer(clean: SpinePhantom) -> None:
    before, after = clean.vertebrae.array, spoiled("dilate").vertebrae.array
    shells = {
        label: ndimage.binary_dilation(before == label, CROSS) & (before == 0)
        for label in labels_of(clean)
    }
    contested = sum(shell.astype(int) for shell in shells.values()) > 1
    for label, shell in shells.items():
        grown = (after == label) & (before != label)
        # Every voxel of its one-voxel shell that no other label also touches, and no more.
        assert np.array_equal(grown & ~contested, shell & ~contested), label
        assert not (grown & ~shell).any(), label
        count = int(np.count_nonzero(after == label))
        assert count >= np.count_nonzero(before == label) + np.count_nonzero(shell & ~contested)
    assert np.array_equal(after[before > 0], before[before > 0])


def test_erode_shrinks_every_label_by_one_voxel_layer(clean: SpinePhantom) -> None:
    before, after = clean.vertebrae.array, spoiled("erode").vertebrae.array
    for label in labels_of(clean):
        core = ndimage.binary_erosion(before == label, CROSS, border_value=1)
        assert np.array_equal(after == label, core), label
        assert np.count_nonzero(after == label) < np.count_nonzero(before == label)
    assert not (after[before == 0]).any()


def test_ragged_walls_move_by_at_most_one_voxel_both_ways(clean: SpinePhantom) -> None:
    before, after = clean.vertebrae.array, spoiled("ragged").vertebrae.array
    for label in labels_of(clean):
        mine, theirs = before == label, after == label
        inner = ndimage.binary_erosion(mine, CROSS, border_value=1)
        outer = ndimage.binary_dilation(mine, CROSS)
        assert (theirs & ~outer).sum() == 0 and (inner & ~theirs).sum() == 0, label
        added, removed = (theirs & ~mine).sum(), (mine & ~theirs).sum()
        assert added > 0.1 * (outer & ~mine).sum() and removed > 0.1 * (mine & ~inner).sum()
    again = spoiled("ragged").vertebrae.array
    assert np.array_equal(after, again)  # seeded


def test_missing_process_leaves_one_process_out_of_each_label(clean: SpinePhantom) -> None:
    built = spoiled("missing-process")
    before, after = clean.vertebrae.array, built.vertebrae.array
    assert not (after[before == 0]).any()
    for entry in built.truth["vertebrae"]:
        assert entry["missing_process"] in ("spinous", "transverse_right", "transverse_left")
        label = entry["label"]
        lost = (before == label) & (after != label)
        assert lost.sum() > 20, entry["level"]
        # The lost voxels lie behind the canal (spinous) or to the side of it (transverse).
        center = np.array(entry["canal_center_mm"])
        points = clean.vertebrae.index_to_world(np.argwhere(lost).astype(float)) - center
        right = points @ np.array(entry["frame"]["right"])
        anterior = points @ np.array(entry["frame"]["anterior"])
        if entry["missing_process"] == "spinous":
            assert np.all(anterior < -entry["canal_radius_mm"]) and np.all(abs(right) < 6)
        else:
            sign = 1 if entry["missing_process"] == "transverse_right" else -1
            assert np.all(sign * right > entry["canal_radius_mm"])
        # The body is untouched.
        body = np.array(entry["body_center_mm"])
        index = tuple(np.rint(built.vertebrae.world_to_index(body)).astype(int))
        assert after[index] == label


@pytest.mark.parametrize("value", ["dilated", "", "missing_process", 3])
def test_bad_mask_error_names_the_allowed_values(value: object) -> None:
    with pytest.raises(InputError, match=r"mask_error .* is not valid; use one of none, dilate"):
        make_spine_phantom(levels="L1", spacing_mm=(3.0,) * 3, mask_error=value)  # type: ignore[arg-type]


def test_mask_error_ignores_case_and_spaces() -> None:
    built = make_spine_phantom(levels="L1", spacing_mm=(3.0,) * 3, mask_error=" Erode")
    assert built.truth["parameters"]["mask_error"] == "erode"
