"""Choosing the compute device and seeding every random generator."""

from __future__ import annotations

import random

import numpy as np
import torch

from fracturelab.errors import InputError

__all__ = ["seed_everything", "select_device"]

DEVICES = ("auto", "cpu", "cuda", "mps")


def select_device(name: str = "auto") -> torch.device:
    """Return the device to compute on.

    Args:
        name: ``"auto"`` (CUDA if present, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"``,
            ``"cuda:N"`` or ``"mps"``.

    Raises:
        InputError: If the name is unknown or the device is not available here.

    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    base = name.split(":")[0]
    if base not in DEVICES:
        raise InputError(f"device={name!r} is not valid; allowed: {', '.join(DEVICES)}")
    if base == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={name!r} asked for, but this PyTorch sees no CUDA GPU; use auto")
    if base == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device={name!r} asked for, but MPS is not available; use auto")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch; return a generator for data loaders."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that still use the global state
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
