"""The femur algorithm: a radiograph in; the fracture centre, P(AFF), label and overlay out.

Only the public :class:`~fracturelab.femur.FemurModel` API is used (``predict``,
``FemurPrediction.to_dict``, :func:`~fracturelab.femur.overlay.render_overlay`).

Grand-challenge stores a 2D image as a 2D ``.mha`` or a 3D one with a single slice (and
``.tif``); both are read by :func:`~fracturelab.imaging.read_radiograph`. The centre is given
as a Point in the image's physical space (origin + direction x spacing x index, mm), with
``z`` the slice's position (0 for a 2D file), which is where the platform's viewer shows it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fracturelab.grandchallenge.sockets import Socket, require_input
from fracturelab.grandchallenge.staging import OutputStage
from fracturelab.imaging import read_radiograph

if TYPE_CHECKING:
    import SimpleITK as sitk

    from fracturelab.femur import FemurModel, FemurPrediction
    from fracturelab.imaging import Radiograph

__all__ = ["run_femur", "world_point"]

_VERSION = {"major": 1, "minor": 0}


def world_point(image_path: Path, center_px: tuple[float, float]) -> list[float]:
    """The physical position (mm, three values) of pixel ``(x, y)`` of a 2D or one-slice image.

    ``.tif`` files carry no origin or direction: their pixel spacing (1 mm when unknown) is
    used from a zero origin.
    """
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(image_path))
    reader.ReadImageInformation()
    origin, spacing = reader.GetOrigin(), reader.GetSpacing()
    dimension = reader.GetDimension()
    direction = reader.GetDirection()
    index = [center_px[0], center_px[1]] + [0.0] * (dimension - 2)
    point = [
        origin[r] + sum(direction[r * dimension + c] * spacing[c] * index[c]
                        for c in range(dimension))
        for r in range(dimension)
    ]  # fmt: skip
    return [round(float(v), 3) for v in [*point, 0.0][:3]]


def run_femur(
    input_dir: Path,
    stage: OutputStage,
    sockets: Mapping[str, Socket],
    listed: Mapping[str, Any] | None,
    model: FemurModel,
) -> FemurPrediction:
    """Read the radiograph socket, predict and stage every femur output."""
    path = require_input(input_dir, sockets["radiograph"], listed)
    assert path is not None  # the radiograph socket is required
    radiograph = read_radiograph(path)
    prediction = model.predict(radiograph)
    document = prediction.to_dict()
    document["image"] = path.name
    center = None
    if prediction.center_px is not None:
        center = world_point(path, prediction.center_px)
        stage.write_value(
            sockets["center"],
            {
                "name": f"fracture centre ({prediction.label})",
                "type": "Point",
                "point": center,
                "version": dict(_VERSION),
            },
        )
    document["center_world_mm"] = center
    stage.write_value(sockets["p_aff"], round(prediction.p_aff, 6))
    stage.write_value(sockets["label"], prediction.label)
    stage.write_value(sockets["prediction"], document, "femur-prediction")
    stage.write_image(sockets["overlay"], _overlay_image(radiograph, prediction))
    return prediction


def _overlay_image(radiograph: Radiograph, prediction: FemurPrediction) -> sitk.Image:
    """The overlay picture as an RGB image whose pixels cover the radiograph's extent."""
    import SimpleITK as sitk

    from fracturelab.femur.overlay import render_overlay

    with tempfile.TemporaryDirectory(prefix="fracturelab-overlay-") as scratch:
        png = render_overlay(radiograph, prediction, Path(scratch) / "overlay.png")
        image = sitk.ReadImage(str(png))
    spacing = radiograph.spacing_xy_mm or (1.0, 1.0)
    width, height = image.GetSize()[:2]
    image.SetSpacing(
        (spacing[0] * radiograph.width_px / width, spacing[1] * radiograph.height_px / height)
    )
    return image
