"""The phantom's CT has partial volume: a voxel cut by a surface holds its share of each side.

A scanner's slice averages what lies inside it, so the same body scanned with 1 mm and with
3 mm slices carries the same amount of bone along every line through it. Painting tissue at
voxel centres instead moves each endplate to a voxel boundary (a 3 mm staircase), and the
CT then cannot show an endplate's sub-voxel position.
"""

import numpy as np

from fracturelab.synth.spine_phantom import make_spine_phantom

HALF_VOXEL_OF_BONE_HU_MM = 0.5 * 3.0 * 700.0  # what a centre-painted 3 mm endplate can be off


def test_bone_along_columns_is_the_same_with_1_mm_and_3_mm_slices():
    kw = {"levels": "T12-L2", "noise_hu": 0.0, "curvature": 0.6, "seed": 2}
    fine = make_spine_phantom(spacing_mm=(1, 1, 1), **kw)
    coarse = make_spine_phantom(spacing_mm=(1, 1, 3), **kw)
    assert np.allclose(fine.ct.affine[:3, 3], coarse.ct.affine[:3, 3])  # same first voxel
    fine_hu, coarse_hu = np.asarray(fine.ct.array, float), np.asarray(coarse.ct.array, float)
    n = coarse_hu.shape[2] - 1
    # 3 mm voxel k covers 1 mm voxels 3k - 1 .. 3k + 1: integrate both over the same span
    fine_sum = fine_hu[:, :, 2 : 3 * n + 2].sum(axis=2) * 1.0
    coarse_sum = coarse_hu[:, :, 1 : n + 1].sum(axis=2) * 3.0
    origin, spacing = fine.ct.affine[:3, 3], np.diag(fine.ct.affine)[:3]
    for vertebra in fine.truth["vertebrae"]:
        centre = (np.asarray(vertebra["body_center_mm"]) - origin) / spacing
        i, j = np.rint(centre[:2]).astype(int)
        # columns within 6 mm of the body's centre cross two endplates and two discs
        difference = np.abs(fine_sum - coarse_sum)[i - 6 : i + 7, j - 6 : j + 7]
        assert np.median(difference) < 0.25 * HALF_VOXEL_OF_BONE_HU_MM, vertebra["level"]
