"""A saved spine model for tests that use one (analyze --model, evaluate, workstation import)."""

from __future__ import annotations

from pathlib import Path

import torch

from fracturelab.spine.learned.bundle import SpineModel
from fracturelab.spine.learned.network import build_spine_network
from fracturelab.spine.patches import CHANNELS, PatchSpec

__all__ = ["SPEC", "tiny_spine_model"]

SPEC = PatchSpec(size_mm=(48.0, 48.0, 48.0), spacing_mm=4.0)


def tiny_spine_model(
    folder: Path, spec: PatchSpec = SPEC, fuse: bool = False, threshold: float = 0.5, seed: int = 0
) -> Path:
    """Save an untrained two-fold tiny CNN spine model cut with ``spec``; return its folder."""
    torch.manual_seed(seed)
    networks = [build_spine_network("cnn", spec.shape, 3, "tiny", fuse) for _ in range(2)]
    document = {"spec": spec.to_dict(), "channels": list(CHANNELS)}
    model = SpineModel(
        networks, "cnn", "tiny", spec.shape, CHANNELS, fuse, threshold, patch_spec=document,
        training_data={"vertebrae": 0}, info={"run": "test"},
    )  # fmt: skip
    return model.save(folder)
