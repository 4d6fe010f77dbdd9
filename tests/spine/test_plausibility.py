"""Labels that cannot be one vertebra (several vertebrae under one label) are refused."""

import numpy as np
import pytest

from fracturelab.errors import InputError
from fracturelab.imaging import Volume, read_volume
from fracturelab.spine.labels import load_vertebra_labels
from fracturelab.synth import make_spine_phantom
from tests.spine.builders import stacked_labels

_TS = "ct-totalsegmentator-example"
_TP = "ct-tptbox-sample"
_REAL_MAPS = [
    (f"{_TS}/ct.nii.gz", f"{_TS}/totalseg_total.nii.gz"),
    (f"{_TS}/dicom", f"{_TS}/dicom_totalseg_total.nii.gz"),
    (f"{_TP}/sub-ct_label-22_ct.nii.gz", f"{_TP}/sub-ct_seg-vert_label-22_msk.nii.gz"),
    *(
        (f"ct-verse19-graded/verse{c}/sub-verse{c}_ct.nii.gz",
         f"ct-verse19-graded/verse{c}/sub-verse{c}_seg-vert_msk.nii.gz")
        for c in ("005", "007", "008", "012")
    ),
]  # fmt: skip


def _ct_like(labels: Volume) -> Volume:
    return labels.with_array(np.zeros(labels.shape, dtype=np.int16))


def _box_map(shape_mm, label, spacing=2.0, pieces=1, gap_mm=8.0):
    """``pieces`` boxes of ``shape_mm`` (x, y, z) mm stacked along z with ``gap_mm`` between."""
    sx, sy, sz = (round(s / spacing) for s in shape_mm)
    gap = round(gap_mm / spacing)
    nz = pieces * (sz + gap) + gap
    array = np.zeros((sx + 4, sy + 4, nz), dtype=np.uint8)
    for i in range(pieces):
        array[2 : 2 + sx, 2 : 2 + sy, gap + i * (sz + gap) : gap + i * (sz + gap) + sz] = label
    return Volume(array, np.diag([spacing, spacing, spacing, 1.0]))


def test_whole_spine_mask_under_one_label_is_refused():
    # Six 40x36x24 mm "bodies" with 8 mm discs under label 1: 6 x 34,560 mm3, and voxel
    # centres from the first to the last span 6 x 24 + 5 x 8 - 2 = 182 mm head-foot.
    labels = _box_map((40, 36, 24), label=1, pieces=6)
    with pytest.raises(InputError) as caught:
        load_vertebra_labels(labels, _ct_like(labels))
    message = str(caught.value)
    assert "label 1 (C1 in VerSe numbering) covers 207,360 mm3 and 182 mm" in message
    assert "6 pieces one above the other" in message
    assert "per-vertebra label map" in message and "\n" not in message


def test_a_lumbar_label_too_large_for_one_vertebra_is_refused():
    # One solid 80x80x40 mm block under L1's VerSe label: 256 ml, above the 160 ml lumbar limit.
    labels = _box_map((80, 80, 40), label=20)
    with pytest.raises(InputError, match=r"label 20 \(L1 in VerSe numbering\) covers 256,000 mm3"):
        load_vertebra_labels(labels, _ct_like(labels), convention="verse")


def test_a_label_too_tall_for_one_vertebra_is_refused():
    # A thin 20x20x150 mm rod: small volume (60 ml), but taller than any lumbar vertebra.
    labels = _box_map((20, 20, 150), label=20)
    with pytest.raises(InputError, match=r"60,000 mm3 and 148 mm along the head-foot axis"):
        load_vertebra_labels(labels, _ct_like(labels), convention="verse")


def test_three_stacked_pieces_are_refused_two_are_not():
    # 30x30x10 mm pieces (9 ml each, 2 mm apart): three stacked span only 32 mm and 27 ml,
    # within every lumbar limit, but three vertebra-sized pieces one above the other.
    three = _box_map((30, 30, 10), label=20, pieces=3, gap_mm=2.0)
    with pytest.raises(InputError, match="3 pieces one above the other"):
        load_vertebra_labels(three, _ct_like(three), convention="verse")
    two = _box_map((30, 30, 10), label=20, pieces=2, gap_mm=2.0)  # a vertebra cut in two
    assert load_vertebra_labels(two, _ct_like(two), convention="verse").levels == {20: "L1"}


def test_small_specks_do_not_count_as_pieces():
    labels = _box_map((30, 30, 10), label=20)
    array = labels.array.copy()
    array[0, 0, ::3] = 20  # one-voxel specks above and below the body (8 mm3 each)
    specked = labels.with_array(array)
    assert load_vertebra_labels(specked, _ct_like(specked), convention="verse").levels


def test_ordinary_stacked_vertebrae_still_pass():
    labels = stacked_labels([19, 20, 21])
    assert load_vertebra_labels(labels, _ct_like(labels)).levels == {19: "T12", 20: "L1", 21: "L2"}


def test_phantom_from_c1_to_s1_passes():
    phantom = make_spine_phantom(levels="C1-S1", curvature=1.5, spacing_mm=(2, 2, 2), noise_hu=0)
    result = load_vertebra_labels(phantom.vertebrae, phantom.ct)
    assert len(result.levels) == 25


def test_totalsegmentator_vertebrae_body_map_is_refused(shared_data):
    folder = shared_data / "ct-totalsegmentator-example"
    ct = read_volume(folder / "ct.nii.gz")
    with pytest.raises(InputError) as caught:
        load_vertebra_labels(folder / "totalseg_vertebrae_body.nii.gz", ct)
    message = str(caught.value)
    assert message.startswith(f"label map {folder / 'totalseg_vertebrae_body.nii.gz'}: label 1")
    assert "297,135 mm3" in message and "vertebrae_body" in message


@pytest.mark.parametrize(("ct", "labels"), _REAL_MAPS, ids=lambda p: p.split("/")[-1])
def test_every_real_label_map_passes(shared_data, ct, labels):
    result = load_vertebra_labels(
        shared_data / labels, read_volume(shared_data / ct), resample=True
    )
    assert result.levels
