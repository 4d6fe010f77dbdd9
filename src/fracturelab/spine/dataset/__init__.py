"""The spine dataset API: scans with their tiers, vertebra grades, readers and checks.

``read_dataset`` reads the two-CSV form (``scans.csv`` + ``grades.csv``), the workstation's
spine export and a VerSe folder; ``check_trainable`` and ``check_levels_in_masks`` check a
dataset further. Formats and commands are in ``docs/spine-dataset.md`` and ``docs/design.md``.
"""

from fracturelab.spine.dataset.checks import check_levels_in_masks, check_trainable
from fracturelab.spine.dataset.model import (
    MORPHOLOGIES,
    TIERS,
    DatasetError,
    SpineCase,
    SpineDataset,
    VertebraGrade,
)
from fracturelab.spine.dataset.reader import read_dataset

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
