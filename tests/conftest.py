"""Fixtures shared across test packages: a tiny femur experiment, run once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fracturelab.femur.experiment import run_experiment
from fracturelab.femur.result import ExperimentResult
from tests.femur.builders import TINY


@pytest.fixture(scope="session")
def femur_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 20 patients, 30 % AFF, small radiographs; returns the manifest path."""
    from fracturelab.synth.femur import make_femur_dataset

    folder = tmp_path_factory.mktemp("femur-data")
    return make_femur_dataset(
        folder,
        n_images=40,
        seed=4,
        aff_fraction=0.3,
        size_range_px=(256, 400),
        images_per_patient=(1, 3),
        progress=False,
    )


@pytest.fixture(scope="session")
def tiny_run(femur_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> ExperimentResult:
    out = tmp_path_factory.mktemp("femur-run") / "run"
    return run_experiment(femur_dataset, out, TINY, show_progress=False)
