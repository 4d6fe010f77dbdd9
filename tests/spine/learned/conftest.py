"""Fixtures of the learned-classifier tests: one tiny graded phantom set for the CLI runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from fracturelab.synth.spine_set import make_spine_set


@pytest.fixture(scope="session")
def phantom_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 graded phantom scans (T12-L2, 3 mm), one per patient, half the patients fractured."""
    out = tmp_path_factory.mktemp("learned-set")
    return make_spine_set(
        out, 8, seed=5, spacing_mm=(3, 3, 3), graded_share=1.0, unlabelled_share=0.0,
        fracture_share=0.5, scans_per_patient=(1, 1), levels="T12-L2", progress=False,
    )  # fmt: skip
