"""Crops along the spine of any CT, cut once into a disk cache and read lazily.

Self-supervised pretraining needs no label: :func:`spine_centres` finds the bone column in
the CT itself (voxels above ``bone_hu``, the largest 3D connected component, its centroid in
each slab of ``step_mm`` along the superior axis), and :func:`prepare_crops` cuts a cube of
the classifier's patch spec (same size, spacing and CT window) around each centre, oriented as
the classifier's patches (``D`` superior, ``H`` anterior, ``W`` right). A scan with a label map
(graded or delineated) is cut at its own vertebrae's centroids instead (the segmenter's
output, when one is available). The crops go into ``cache/crops/<case_id>/<k>.npy`` (float16,
``(C, D, H, W)``: the CT window in channel 0, the other channels zero because the vertebra
masks are unknown) with ``cache/crops.csv`` (``case_id, patient_id, tier, crop, centre_x_mm,
centre_y_mm, centre_z_mm``); scans are prepared in worker processes with a progress bar, and a
rerun reuses the scans already cut.

:class:`CropDataset` holds only the paths: each item reads its crop from disk when asked, so
a set of thousands of CTs is never in memory at once.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from fracturelab.errors import InputError
from fracturelab.outputs import atomic_path, atomic_write_text, write_csv
from fracturelab.progress import progress_bar
from fracturelab.spine.patches import PatchSpec
from fracturelab.typing import Float64Array, FloatArray

__all__ = ["CROP_COLUMNS", "CropDataset", "CropSource", "prepare_crops", "spine_centres"]

#: Columns of ``crops.csv``.
CROP_COLUMNS: tuple[str, ...] = (
    "case_id", "patient_id", "tier", "crop", "centre_x_mm", "centre_y_mm", "centre_z_mm",
)  # fmt: skip
#: Patch axes as LPS unit vectors: superior (+z), anterior (-y), right (-x).
_AXES_LPS = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class CropSource:
    """One scan to cut crops from (plain data, sent to worker processes).

    Attributes:
        case_id: Scan.
        patient_id: Patient.
        tier: ``graded``, ``delineated`` or ``unlabelled``.
        ct: CT path.
        vertebrae: Label map path, or ``None`` (then the bone column is found).

    """

    case_id: str
    patient_id: str
    tier: str
    ct: str
    vertebrae: str | None = None


def spine_centres(volume: Any, step_mm: float, bone_hu: float = 250.0) -> Float64Array:
    """Centres (LPS mm, ``(N, 3)``) along the bone column of a CT, one per ``step_mm`` slab.

    The column is the largest connected component of the voxels above ``bone_hu``; a slab
    holding fewer than 20 of its voxels gives no centre.

    Args:
        volume: A :class:`~fracturelab.imaging.Volume` in HU.
        step_mm: Distance between centres along the superior axis, mm.
        bone_hu: Bone threshold in HU.

    """
    from scipy import ndimage

    bone = np.asarray(volume.array) > bone_hu
    labels, count = ndimage.label(bone)
    if count == 0:
        return np.zeros((0, 3))
    sizes = np.bincount(labels.ravel())[1:]
    column = np.argwhere(labels == int(np.argmax(sizes)) + 1)
    world = volume.index_to_world(column.astype(float))
    z = world[:, 2]
    centres = []
    for low in np.arange(z.min(), z.max() + 1e-6, step_mm):
        inside = (z >= low) & (z < low + step_mm)
        if inside.sum() >= 20:
            centres.append(world[inside].mean(axis=0))
    return np.array(centres).reshape(-1, 3)


def _label_centres(volume: Any, label_path: str) -> Float64Array:
    from fracturelab.spine.pipeline import load_inputs

    _, label_map = load_inputs(volume, label_path)
    array = np.asarray(label_map.volume.array)
    centres = []
    for value in sorted(label_map.levels):
        where = np.argwhere(array == value).astype(float)
        if not where.size:
            continue
        centres.append(volume.index_to_world(where.mean(axis=0, keepdims=True))[0])
    return np.array(centres).reshape(-1, 3)


def _cut_scan(
    source: CropSource, folder: Path, spec: PatchSpec, channels: int, step_mm: float
) -> list[dict[str, Any]]:
    """Cut one scan's crops into ``folder/crops/<case_id>/``; rows of ``crops.csv``."""
    from fracturelab.spine.patches import _sample
    from fracturelab.spine.pipeline import read_ct

    case_dir = folder / "crops" / source.case_id
    done = case_dir / "case.json"
    if done.is_file():
        rows: list[dict[str, Any]] = json.loads(done.read_text(encoding="utf-8"))
        if all((folder / r["crop"]).is_file() for r in rows):
            return rows
    volume = read_ct(source.ct, ())
    if source.vertebrae:
        try:
            centres = _label_centres(volume, source.vertebrae)
        except InputError:
            centres = spine_centres(volume, step_mm)
    else:
        centres = spine_centres(volume, step_mm)
    case_dir.mkdir(parents=True, exist_ok=True)
    low, high = spec.window_hu
    rows = []
    for k, centre in enumerate(centres):
        ct = _sample(volume, centre, _AXES_LPS, spec, order=spec.ct_order, fill=-1000.0)
        crop = np.zeros((channels, *ct.shape), dtype=np.float16)
        crop[0] = np.clip((ct - low) / (high - low), 0.0, 1.0)
        relative = f"crops/{source.case_id}/{k}.npy"
        with atomic_path(folder / relative) as temporary:
            np.save(temporary, crop)
        x, y, z = (round(float(v), 2) for v in centre)
        rows.append(
            {"case_id": source.case_id, "patient_id": source.patient_id, "tier": source.tier,
             "crop": relative, "centre_x_mm": x, "centre_y_mm": y, "centre_z_mm": z}
        )  # fmt: skip
    atomic_write_text(done, json.dumps(rows))
    return rows


def prepare_crops(
    sources: Sequence[CropSource],
    folder: str | Path,
    spec: PatchSpec,
    *,
    channels: int = 3,
    step_mm: float | None = None,
    jobs: int = 1,
    show_progress: bool = True,
) -> Path:
    """Cut every scan into crops along its spine (see the module docstring).

    Args:
        sources: The scans.
        folder: The crop cache folder (created).
        spec: Crop size, spacing and CT window (the classifier's patch spec).
        channels: Channels of each crop (those of the classifier).
        step_mm: Distance between crops along the spine; default half the crop's height.
        jobs: Scans cut at once (worker processes).
        show_progress: Show a progress bar.

    Returns:
        The path of ``crops.csv``.

    Raises:
        InputError: For ``jobs`` < 1, or when no scan gave a crop. A scan that cannot be
            read is skipped and named in ``failed.csv``.

    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs {jobs!r} is not valid; give a number of processes >= 1")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    step = step_mm if step_mm is not None else spec.size_mm[2] / 2.0
    results: dict[str, list[dict[str, Any]]] = {}
    failed: list[tuple[str, str]] = []
    with progress_bar("pretraining crops (scans)", len(sources), show=show_progress) as advance:
        if jobs == 1 or len(sources) <= 1:
            for source in sources:
                try:
                    results[source.case_id] = _cut_scan(source, out, spec, channels, step)
                except Exception as error:  # a scan that fails is listed, never raised
                    failed.append((source.case_id, f"{type(error).__name__}: {error}"))
                advance()
        else:
            context = get_context("spawn")
            with ProcessPoolExecutor(jobs, mp_context=context) as pool:
                futures = {pool.submit(_cut_scan, s, out, spec, channels, step): s for s in sources}
                for future in as_completed(futures):
                    source = futures[future]
                    try:
                        results[source.case_id] = future.result()
                    except Exception as error:
                        failed.append((source.case_id, f"{type(error).__name__}: {error}"))
                    advance()
    rows = [row for s in sources for row in results.get(s.case_id, [])]
    write_csv(out / "failed.csv", ("case_id", "reason"), failed)
    if not rows:
        raise InputError(
            f"{out}: no crop could be cut from {len(sources)} scan(s) (see {out / 'failed.csv'}); "
            "check that the CTs are in HU and show the spine"
        )
    return write_csv(out / "crops.csv", CROP_COLUMNS, rows)


class CropDataset(Dataset[dict[str, torch.Tensor]]):
    """Two masked, augmented views of each crop, read from disk on demand.

    Items: ``view1``, ``view2`` ``(C, D, H, W)`` float32 and ``target`` ``(1, D, H, W)`` (the
    unmasked CT channel). The crop is flipped left-right at random; each view gets intensity
    jitter, then random cubes masked out (MONAI ``RandCoarseDropout``: up to ``holes`` cubes
    of a sixth of the crop) and shuffled (``RandCoarseShuffle``), as in MONAI's
    self-supervised tutorials.

    Args:
        crops_csv: ``crops.csv`` of :func:`prepare_crops`.
        seed: Seed of the augmentation.
        holes: Masked cubes per view.

    """

    def __init__(self, crops_csv: str | Path, seed: int = 0, holes: int = 6) -> None:
        index = Path(crops_csv)
        if not index.is_file():
            raise InputError(f"{index} does not exist; cut the crops first (prepare_crops)")
        with index.open(encoding="utf-8", newline="") as handle:
            self.paths = [index.parent / row["crop"] for row in csv.DictReader(handle)]
        if not self.paths:
            raise InputError(f"{index} lists no crop; pretraining needs scans of the spine")
        self.holes = holes
        self._transforms: Any = None
        self.seed = seed

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: int) -> FloatArray:
        """The crop ``(C, D, H, W)`` float32, read from disk."""
        path = self.paths[index]
        try:
            array: FloatArray = np.load(path, allow_pickle=False).astype(np.float32)
        except (OSError, ValueError, EOFError):
            raise InputError(
                f"{path}: the crop cannot be read (missing, truncated or damaged); delete its "
                "case folder and rerun, which cuts it again"
            ) from None
        return array

    def _view(self, crop: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        if self._transforms is None:
            from monai.transforms import Compose, RandCoarseDropout, RandCoarseShuffle

            side = max(1, min(crop.shape[1:]) // 6)
            self._transforms = Compose(
                [
                    RandCoarseDropout(
                        holes=self.holes, spatial_size=side, fill_value=0.0, prob=1.0
                    ),
                    RandCoarseShuffle(holes=self.holes // 2 or 1, spatial_size=side, prob=0.8),
                ]
            )
        self._transforms.set_random_state(seed=int(rng.integers(2**31)))
        view = crop.clone()
        view[0] = (view[0] * (1.0 + rng.uniform(-0.1, 0.1))).clamp(0.0, 1.0)
        masked = self._transforms(view[:1])
        if hasattr(masked, "as_tensor"):
            masked = masked.as_tensor()
        view[:1] = masked
        return view.contiguous()

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        # drawn from torch's generator, which a checkpoint restores: a resumed run draws the same
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,))) + self.seed)
        crop = torch.from_numpy(self.read(index))
        if rng.random() < 0.5:
            crop = torch.flip(crop, dims=(3,)).contiguous()  # left-right, views and target alike
        first, second = self._view(crop, rng), self._view(crop, rng)
        return {"view1": first, "view2": second, "target": crop[:1].clone()}
