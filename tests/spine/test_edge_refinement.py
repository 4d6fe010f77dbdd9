"""The CT's bone edge along one measuring line (sub-voxel), against analytic HU profiles."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from fracturelab.spine.endplates import refine_edge

STEP = 0.1  # mm between samples along the line


def _profile(levels):
    """HU along a line: ``levels`` is a list of (end of the segment in mm, HU), blurred."""
    t = np.arange(-15.0, 15.0, STEP)
    ends, values = zip(*levels, strict=True)
    hu = np.select([t < end for end in ends[:-1]], list(values[:-1]), values[-1])
    return t, gaussian_filter1d(hu, 0.5 / STEP)  # a sharp CT: 0.5 mm point-spread


# A superior endplate whose bone edge is at t = 0: cancellous bone, a faint (osteoporotic)
# 1 mm cortex, a 2 mm thin disc, then the next vertebra's brighter cortex and bone.
THIN_DISC = [(-1.0, 220.0), (0.0, 500.0), (2.0, 90.0), (3.0, 800.0), (99.0, 220.0)]


@pytest.mark.parametrize("mask_at", [-1.0, 0.0, 1.0], ids=["eroded", "exact", "dilated"])
def test_bone_edge_is_found_beside_a_brighter_neighbour_across_a_thin_disc(mask_at):
    t, hu = _profile(THIN_DISC)
    edge = refine_edge(t, hu, mask_at, 1.0, 2.0)
    # the half-maximum between this body's bone and the disc, not the neighbour's edge 3 mm on
    assert edge is not None
    assert abs(edge - 0.0) <= 0.25, edge


def test_inferior_endplate_is_the_mirror_image():
    t, hu = _profile(THIN_DISC)
    edge = refine_edge(-t[::-1], hu[::-1], -1.0, -1.0, 2.0)  # mask one voxel into the disc
    assert edge is not None and abs(edge) <= 0.25, edge


def test_no_edge_without_contrast():
    t, hu = _profile([(0.0, 150.0), (99.0, 100.0)])  # 50 HU: no bone edge to trust
    assert refine_edge(t, hu, 0.0, 1.0, 2.0) is None


def test_edge_beyond_the_search_window_is_not_taken():
    t, hu = _profile([(-1.0, 220.0), (0.0, 800.0), (99.0, 90.0)])
    assert refine_edge(t, hu, 3.0, 1.0, 2.0) is None  # the mask 3 mm off: not within 2 mm
