"""One spine scan read end to end: CT + label map, morphometry, the learned model, outputs.

``fracturelab spine analyze``, the batch reader and the grand-challenge entrypoint all read a
scan through :func:`read_spine_scan`, so they give the same results for the same files.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fracturelab.imaging import Volume
from fracturelab.spine.labels import VertebraLabelMap
from fracturelab.spine.pipeline import analyze, load_inputs, read_ct
from fracturelab.spine.report import SpineReport
from fracturelab.typing import PathLike

if TYPE_CHECKING:
    from fracturelab.spine.learned.bundle import SpineModel

__all__ = ["ScanReading", "read_spine_scan"]

#: Called with a short description of the step that starts ("reading CT and label map", ...).
StepCallback = Callable[[str], None]
#: Called as ``progress(done, total, level)`` after each vertebra is measured.
VertebraCallback = Callable[[int, int, str], None]


@dataclass
class ScanReading:
    """The result of reading one scan, with the inputs it was computed from.

    Attributes:
        report: Per-vertebra morphometry (and the model's outputs when a model was applied).
        ct: The CT in HU, with its LPS geometry.
        label_map: The vertebra label map on the CT's grid.

    """

    report: SpineReport
    ct: Volume
    label_map: VertebraLabelMap

    def write(self, out_dir: PathLike, *, overview: bool = True) -> dict[str, Path]:
        """Write ``vertebrae.json``, ``vertebrae.csv`` and (optionally) ``overview.png``.

        Each file is written atomically; the folder must exist or be creatable.

        Returns:
            The written paths by kind: ``json``, ``csv`` and ``overview``.

        """
        written: dict[str, Path] = {}
        if overview:
            from fracturelab.spine.overview import render_overview

            written["overview"] = render_overview(
                self.ct, self.label_map.volume, self.report, Path(out_dir) / "overview.png"
            )
        written.update(self.report.write(Path(out_dir)))
        return written


def read_spine_scan(
    ct: PathLike | Volume,
    vertebrae: PathLike | Volume | VertebraLabelMap,
    *,
    model: SpineModel | None = None,
    model_folder: PathLike | None = None,
    labels: str = "auto",
    resample_labels: bool = False,
    allow_modalities: Collection[str] = (),
    on_step: StepCallback | None = None,
    on_vertebra: VertebraCallback | None = None,
) -> ScanReading:
    """Read a CT and its vertebra label map, measure and grade each vertebra, apply a model.

    Args:
        ct: The CT or its path (NIfTI, MHA/MHD, NRRD, DICOM series folder).
        vertebrae: The vertebra label map, its path or a folder of per-level files.
        model: A loaded spine model (``SpineModel.load``), or ``None`` for morphometry only.
        model_folder: The model's folder, recorded in the report (required with ``model``).
        labels: Label convention (``--labels``): ``auto``, ``verse``, ``totalseg_v2`` or
            ``totalseg_v1``.
        resample_labels: Resample a label map on another grid onto the CT (``--resample-labels``).
        allow_modalities: DICOM Modality codes accepted besides CT (``--allow-modality``).
        on_step: Told when each step starts.
        on_vertebra: Told after each vertebra is measured.

    Returns:
        The reading: report, CT and label map.

    Raises:
        InputError: For unreadable or inconsistent inputs, or a model that cannot be applied.
        ValueError: If ``model`` is given without ``model_folder``.

    """
    if model is not None and model_folder is None:
        raise ValueError("model_folder is required with model (it is recorded in the report)")

    def step(text: str) -> None:
        if on_step is not None:
            on_step(text)

    step("reading CT and label map")
    ct = ct if isinstance(ct, Volume) else Path(ct)
    if isinstance(vertebrae, VertebraLabelMap):
        ct_volume, label_map = read_ct(ct, allow_modalities), vertebrae
    else:
        ct_volume, label_map = load_inputs(
            ct,
            vertebrae if isinstance(vertebrae, Volume) else Path(vertebrae),
            labels=labels,
            resample_labels=resample_labels,
            allow_modalities=allow_modalities,
        )
    step("measuring vertebrae")
    report = analyze(ct_volume, label_map, progress=on_vertebra)
    if model is not None and model_folder is not None:
        from fracturelab.spine.learned.apply import apply_model

        step("applying the model")
        apply_model(report, model, ct_volume, label_map, model_folder)
    return ScanReading(report, ct_volume, label_map)
