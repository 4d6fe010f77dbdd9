"""Self-supervised pretraining of the spine classifier's encoder on every scan of a dataset.

``pretrain_spine(dataset, out, config)`` cuts crops along the spine of every scan (graded,
delineated and unlabelled alike: no label is used; :mod:`.pretrain_data`) into ``OUT/crops``
(in parallel, with a progress bar, reused on a rerun), then trains
:class:`~fracturelab.spine.learned.pretrain_model.PretrainNet` (masked reconstruction +
contrastive views, MONAI's self-supervised recipe) with :func:`fracturelab.training.fit`: one
checkpoint per epoch and resume after an interruption, GPU with AMP when present, several
GPUs through :func:`fracturelab.training.launch` (``devices``), exactly as ``spine train``.
It writes ``OUT/config.json``, ``OUT/encoder.pt``, ``OUT/pretrain.json`` (the encoder's
architecture, the crops, the loss history and the throughput in crops per second), which
``spine train --init OUT`` reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.outputs import atomic_path, atomic_write_text
from fracturelab.spine.learned.config import BACKBONES, SIZES
from fracturelab.spine.learned.pretrain_data import CropDataset, CropSource, prepare_crops
from fracturelab.spine.learned.pretrain_model import (
    ENCODER_FILE,
    PRETRAIN_FILE,
    PretrainLoss,
    PretrainNet,
    pretrain_description,
)
from fracturelab.spine.patches import PatchSpec
from fracturelab.training.config import TrainConfig
from fracturelab.training.distributed import barrier, launch, setup
from fracturelab.training.trainer import fit

__all__ = ["PretrainConfig", "crop_sources", "pretrain_spine"]


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pretraining run (``config.json``).

    Attributes:
        backbone: ``cnn`` or ``vit`` (the classifier's).
        model_size: Size preset (the classifier's).
        patch_mm: Crop edge in mm (the classifier's patch size).
        patch_spacing_mm: Crop voxel size in mm.
        channels: Input channels (the classifier's: 3).
        contrastive_weight: Weight of the contrastive term against the reconstruction.
        training: Epochs, batch, learning rate, device (:class:`TrainConfig`).
        seed: Seed of initialisation and augmentation.

    """

    backbone: str = "cnn"
    model_size: str = "small"
    patch_mm: float = 64.0
    patch_spacing_mm: float = 1.0
    channels: int = 3
    contrastive_weight: float = 1.0
    training: TrainConfig = field(default_factory=lambda: TrainConfig(max_epochs=20))
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("model_size", self.model_size, list(SIZES))
        if not 0 <= self.contrastive_weight <= 100:
            raise InputError(
                f"contrastive_weight={self.contrastive_weight!r} is not valid; use 0-100"
            )

    @property
    def spec(self) -> PatchSpec:
        """The crops' :class:`PatchSpec`."""
        return PatchSpec(size_mm=(self.patch_mm,) * 3, spacing_mm=self.patch_spacing_mm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)


def crop_sources(dataset: Any) -> list[CropSource]:
    """Every scan of a spine dataset as a :class:`CropSource` (label maps where present)."""
    return [
        CropSource(
            c.case_id,
            c.patient_id,
            c.tier,
            str(c.ct),
            None if c.vertebrae is None else str(c.vertebrae),
        )
        for c in dataset.cases
    ]


def _check_same(path: Path, config: PretrainConfig) -> None:
    if not path.is_file():
        return
    saved = json.loads(path.read_text(encoding="utf-8"))
    mine = config.to_dict()
    saved.get("training", {}).pop("device", None)
    mine["training"].pop("device", None)
    differing = sorted(k for k in set(saved) | set(mine) if saved.get(k) != mine.get(k))
    if differing:
        raise InputError(
            f"{path.parent} holds a pretraining run with other settings ({', '.join(differing)} "
            "differ); use a new --out folder, or the same settings to resume"
        )


def pretrain_spine(
    sources: list[CropSource],
    out_dir: str | Path,
    config: PretrainConfig | None = None,
    *,
    jobs: int = 1,
    devices: int = 1,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Cut the crops and pretrain the encoder (or resume); see the module docstring.

    Args:
        sources: The scans (:func:`crop_sources` of a dataset).
        out_dir: The run folder.
        config: Settings; defaults to :class:`PretrainConfig`'s.
        jobs: Scans cut into crops at once.
        devices: Processes that train together (one per GPU); 1 trains here.
        show_progress: Show progress bars.

    Returns:
        ``pretrain.json``'s content.

    Raises:
        InputError: For a run folder started with other settings, no crop at all, or bad
            ``jobs`` / ``devices``.

    """
    settings = config or PretrainConfig()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise InputError(f"--jobs {jobs!r} is not valid; give a number of processes >= 1")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _check_same(folder / "config.json", settings)
    atomic_write_text(folder / "config.json", json.dumps(settings.to_dict(), indent=2) + "\n")
    crops = prepare_crops(
        sources,
        folder / "crops",
        settings.spec,
        channels=settings.channels,
        jobs=jobs,
        show_progress=show_progress,
    )
    backend = "gloo" if settings.training.device == "cpu" else None
    return launch(
        _pretrain, crops, folder, settings, show_progress, devices=devices, backend=backend
    )


def _pretrain(
    crops: Path, folder: Path, settings: PretrainConfig, show_progress: bool
) -> dict[str, Any]:
    """The training part of :func:`pretrain_spine`, run by each of its processes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    run = setup(settings.training.device)
    torch.manual_seed(settings.seed)
    dataset = CropDataset(crops, seed=settings.seed + run.rank)
    shape = settings.spec.shape
    network = PretrainNet(settings.backbone, shape, settings.channels, settings.model_size)
    training = TrainConfig(**{**settings.training.__dict__, "seed": settings.seed})
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    progress = Progress(*columns, TimeElapsedColumn(), disable=not (show_progress and run.is_main))
    started = time.perf_counter()
    with progress:
        outcome = fit(
            network,
            dataset,
            PretrainLoss(settings.contrastive_weight),
            training,
            folder / "checkpoints",
            description="pretraining",
            progress=progress if run.is_main else None,
        )
    seconds = time.perf_counter() - started
    steps = outcome.epochs_run * len(dataset)
    if training.max_steps is not None:
        steps = min(steps, training.max_steps * training.batch_size)
    described = {
        **pretrain_description(settings.backbone, settings.model_size, settings.channels, shape),
        "crops": len(dataset),
        "crops_csv": str(crops),
        "epochs": outcome.epochs_run,
        "resumed": outcome.resumed,
        "history": outcome.history,
        "seconds": round(seconds, 2),
        "crops_per_second": None if outcome.resumed else round(steps / max(seconds, 1e-9), 2),
        "recipe": "masked (RandCoarseDropout + RandCoarseShuffle) reconstruction of two "
        "augmented views (L1) + NT-Xent contrastive (MONAI ContrastiveLoss)",
    }
    earlier = folder / PRETRAIN_FILE
    if outcome.resumed and earlier.is_file():  # keep the throughput the first run measured
        before = json.loads(earlier.read_text(encoding="utf-8"))
        for key in ("seconds", "crops_per_second"):
            described[key] = before.get(key, described[key])
    if run.is_main:
        with atomic_path(folder / ENCODER_FILE) as temporary:
            torch.save(network.features.state_dict(), temporary)
        atomic_write_text(folder / PRETRAIN_FILE, json.dumps(described, indent=2) + "\n")
    barrier(run)
    return described
