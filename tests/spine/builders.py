"""Small label-map builders for the spine tests."""

import numpy as np

from fracturelab.imaging import Volume


def stacked_labels(labels_head_to_foot, spacing_mm=(1.0, 1.0, 1.0), block_voxels=(20, 16, 12)):
    """Boxes of the given labels stacked head to foot (LPS: first label at the largest z)."""
    nx, ny, nz_block = block_voxels
    gap = 4
    nz = len(labels_head_to_foot) * (nz_block + gap) + gap
    array = np.zeros((nx + 8, ny + 8, nz), dtype=np.uint8)
    for i, label in enumerate(labels_head_to_foot):
        top = nz - gap - i * (nz_block + gap)
        array[4 : 4 + nx, 4 : 4 + ny, top - nz_block : top] = label
    affine = np.diag([*spacing_mm, 1.0])
    return Volume(array, affine)
