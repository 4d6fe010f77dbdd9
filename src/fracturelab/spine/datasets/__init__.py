"""Spine datasets: scans, tiers and vertebra grades, their readers and checks.

The public names are also importable from :mod:`fracturelab.spine.dataset`; the formats are
described in ``docs/spine-dataset.md``.
"""

from fracturelab.spine.datasets.checks import check_levels_in_masks, check_trainable
from fracturelab.spine.datasets.model import (
    MORPHOLOGIES,
    TIERS,
    DatasetError,
    SpineCase,
    SpineDataset,
    VertebraGrade,
)
from fracturelab.spine.datasets.reader import read_dataset

__all__ = [
    "MORPHOLOGIES",
    "TIERS",
    "DatasetError",
    "SpineCase",
    "SpineDataset",
    "VertebraGrade",
    "check_levels_in_masks",
    "check_trainable",
    "read_dataset",
]
