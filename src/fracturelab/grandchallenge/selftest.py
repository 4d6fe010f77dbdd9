"""The container's health check: the entrypoint on a built-in phantom, outputs checked.

``fracturelab gc selftest`` draws a small spine phantom with a known L1 fracture (or a small
femur radiograph), lays it out as the platform does, runs the entrypoint with the installed
model and checks every output; for the spine it also checks that the fracture point lies at
L1's body centre, as the phantom's truth places it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fracturelab.errors import FracturelabError
from fracturelab.grandchallenge.entrypoint import resolve_model, run_algorithm
from fracturelab.grandchallenge.simulate import check_outputs, make_input_folder

__all__ = ["POINT_TOLERANCE_MM", "femur_case", "run_selftest", "spine_case"]

#: How far the spine point may lie from the phantom's true body centre.
POINT_TOLERANCE_MM = 6.0


def run_selftest(task: str, model: Path | None = None, device: str | None = None) -> str:
    """Run the check and return one line saying what passed.

    Raises:
        FracturelabError: The entrypoint failed, an output is invalid, or the spine point is
            not at the fractured vertebra.

    """
    folder = resolve_model(model)
    with tempfile.TemporaryDirectory(prefix="fracturelab-selftest-") as scratch:
        root = Path(scratch)
        if task == "spine":
            truth = spine_case(root / "case")
            cases = {"ct": root / "case" / "ct.mha", "vertebrae": root / "case" / "mask.mha"}
        else:
            truth = None
            cases = {"radiograph": femur_case(root / "case")}
        make_input_folder(root / "input", task, cases)
        run_algorithm(root / "input", root / "output", model=folder, task=task, device=device)
        outputs = check_outputs(root / "output", task)
        if truth is not None:
            _check_spine_point(root / "output", truth)
    return f"selftest passed: {task}, {len(outputs)} outputs valid, model {folder or 'none'}"


def spine_case(folder: Path) -> np.ndarray:
    """Write the phantom's CT and mask as .mha; return L1's true body centre (LPS mm)."""
    import SimpleITK as sitk

    from fracturelab.synth.spine_phantom import make_spine_phantom

    phantom = make_spine_phantom(
        levels="T12-L2", fractures="L1:2:wedge", spacing_mm=(3, 3, 3), seed=1
    )
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(phantom.ct.to_sitk(), str(folder / "ct.mha"))
    sitk.WriteImage(phantom.vertebrae.to_sitk(), str(folder / "mask.mha"))
    l1 = next(v for v in phantom.truth["vertebrae"] if v["level"] == "L1")
    return np.asarray(l1["body_center_mm"], dtype=float)


def femur_case(folder: Path) -> Path:
    """Write a small synthetic AFF radiograph as a 2D .mha with its pixel spacing."""
    import SimpleITK as sitk

    from fracturelab.synth.femur import make_femur_radiograph

    phantom = make_femur_radiograph("AFF", seed=0, size_px=(384, 512), spacing_mm=0.4)
    folder.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(phantom.pixels)
    image.SetSpacing((0.4, 0.4))
    path = folder / "radiograph.mha"
    sitk.WriteImage(image, str(path))
    return path


def _check_spine_point(output_dir: Path, truth_mm: np.ndarray) -> None:
    import json

    from fracturelab.grandchallenge.sockets import sockets_for

    socket = sockets_for("spine")["points"]
    value = json.loads((output_dir / socket.relative_path).read_text(encoding="utf-8"))
    points = [p for p in value["points"] if p["name"].startswith("L1 ")]
    if not points:
        raise FracturelabError("selftest: the phantom's L1 fracture has no point")
    distance = float(np.linalg.norm(np.asarray(points[0]["point"]) - truth_mm))
    if distance > POINT_TOLERANCE_MM:
        raise FracturelabError(
            f"selftest: the L1 point lies {distance:.1f} mm from the phantom's body centre"
        )
