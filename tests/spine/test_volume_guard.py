"""The merged-vertebrae guard compares each vertebra with its neighbours, not the whole scan."""

from types import SimpleNamespace

import numpy as np

from fracturelab.spine.levels import parse_level_range
from fracturelab.spine.pipeline import _implausible_volumes

# Whole-vertebra volumes growing down the spine, as in adults: about 15 ml at T1 to about 80 ml
# at L5 (geometric growth), so L4 and L5 are well over twice the median of T1-L5.
LEVELS = parse_level_range("T1-L5")
VOLUMES_MM3 = 15_000 * (80 / 15) ** (np.arange(len(LEVELS)) / (len(LEVELS) - 1))


def _samples(volumes):
    return [
        SimpleNamespace(label=i + 8, level=level, volume_mm3=float(v))
        for i, (level, v) in enumerate(zip(LEVELS, volumes, strict=True))
    ]


def test_lumbar_vertebrae_of_a_whole_spine_scan_are_not_called_merged():
    assert VOLUMES_MM3[-1] > 2.2 * np.median(VOLUMES_MM3)  # the old whole-scan rule failed L5
    assert _implausible_volumes(_samples(VOLUMES_MM3)) == {}


def test_two_vertebrae_under_one_label_are_found_among_neighbours():
    volumes = VOLUMES_MM3.copy()
    t6 = LEVELS.index("T6")
    volumes[t6] = volumes[t6] + volumes[t6 + 1]  # T6 and T7 merged under T6's label ...
    volumes[t6 + 1] = 0.2 * volumes[t6 + 1]  # ... leaving a sliver labelled T7
    reasons = _implausible_volumes(_samples(volumes))
    assert list(reasons) == [8 + t6]
    assert "merged" in reasons[8 + t6]
