"""Shared cases for the grand-challenge tests: a phantom CT + mask, a radiograph, two models."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The phantom's fracture, known independently of any measuring code.
FRACTURE = "L1:2:wedge"


@pytest.fixture(scope="session")
def spine_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A T12-L2 phantom stored PIR (a non-identity direction) as uuid-less .mha files."""
    import SimpleITK as sitk

    from fracturelab.synth.spine_phantom import make_spine_phantom

    phantom = make_spine_phantom(
        levels="T12-L2", fractures=FRACTURE, spacing_mm=(3, 3, 3), seed=1, orientation="PIR"
    )
    folder = tmp_path_factory.mktemp("spine-case")
    sitk.WriteImage(phantom.ct.to_sitk(), str(folder / "ct.mha"))
    sitk.WriteImage(phantom.vertebrae.to_sitk(), str(folder / "mask.mha"))
    return {"ct": folder / "ct.mha", "vertebrae": folder / "mask.mha", "phantom": phantom}


@pytest.fixture(scope="session")
def spine_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.spine.model_helpers import tiny_spine_model

    return tiny_spine_model(tmp_path_factory.mktemp("spine-model") / "best")


@pytest.fixture(scope="session")
def femur_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny patch model, saved through the public FemurModel API."""
    from tests.femur.builders import tiny_femur_model

    return tiny_femur_model(tmp_path_factory.mktemp("femur-model") / "best")


@pytest.fixture(scope="session")
def radiograph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic radiograph stored as grand-challenge stores 2D images: 3D, one slice."""
    import SimpleITK as sitk

    from fracturelab.synth.femur import make_femur_radiograph

    phantom = make_femur_radiograph("AFF", seed=2, size_px=(256, 320), spacing_mm=0.5)
    image = sitk.GetImageFromArray(phantom.pixels[None])
    image.SetSpacing((0.5, 0.5, 1.0))
    image.SetOrigin((10.0, -20.0, 7.5))
    path = tmp_path_factory.mktemp("femur-case") / "radiograph.mha"
    sitk.WriteImage(image, str(path))
    return path
