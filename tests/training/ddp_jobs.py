"""What each process of the distributed tests runs (importable, so ``spawn`` can pickle it)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from fracturelab.training import TrainConfig, fit
from fracturelab.training import trainer as trainer_module

N_ITEMS = 43  # 5 global batches of 8 and one of 3 (shared 2 + 1 over two processes)
N_VALIDATION = 16


class Plane(Dataset[dict[str, torch.Tensor]]):
    """y = w.x + b with noise, 4 features: a small seeded regression problem."""

    def __init__(self, n: int = N_ITEMS, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=generator)
        weights = torch.tensor([[1.5], [-2.0], [0.5], [1.0]])
        self.y = self.x @ weights + 0.3 + 0.05 * torch.randn(n, 1, generator=generator)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def tiny_model() -> nn.Module:
    """A small MLP with GroupNorm (no batch norm: its statistics would be per process)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.GroupNorm(4, 16), nn.Tanh(), nn.Linear(16, 1))


def train(out: str, log: str, max_epochs: int = 3, fail_at_step: int | None = None) -> Any:
    """Train the tiny model (batch 8) into ``out``; each rank logs what it saw into ``log``.

    Returns:
        ``{"weights", "history", "resumed"}`` of this process.

    Raises:
        RuntimeError: On rank 1 at global step ``fail_at_step`` (an interruption).

    """
    rank = int(os.environ.get("RANK", "0"))
    seen: dict[str, list[Any]] = {"batch_sizes": [], "validated": [], "written": []}
    save = trainer_module._save
    write_text = getattr(trainer_module, "atomic_write_text")  # noqa: B009 - not exported

    def logged_save(state: dict[str, Any], path: Path) -> None:
        seen["written"].append(Path(path).name)
        save(state, path)

    def logged_write_text(path: Path, text: str) -> None:
        seen["written"].append(Path(path).name)
        write_text(path, text)

    setattr(trainer_module, "_save", logged_save)  # noqa: B010 - patched in this process only
    setattr(trainer_module, "atomic_write_text", logged_write_text)  # noqa: B010

    def loss(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        seen["batch_sizes"].append(len(batch["x"]))
        if fail_at_step is not None and rank == 1 and len(seen["batch_sizes"]) == fail_at_step:
            raise RuntimeError("interrupted on purpose")
        return nn.functional.mse_loss(model(batch["x"]), batch["y"])

    validation = Plane(N_VALIDATION, seed=1)

    def validate(model: nn.Module) -> float:
        seen["validated"].append(rank)
        return -float(nn.functional.mse_loss(model(validation.x), validation.y))

    model = tiny_model()
    config = TrainConfig(
        max_epochs=max_epochs, batch_size=8, learning_rate=0.02, patience=10, device="cpu"
    )
    result = fit(model, Plane(), loss, config, out, validate=validate)
    seen["history"] = result.history
    Path(log, f"rank{rank}.json").write_text(json.dumps(seen), encoding="utf-8")
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return {"weights": weights, "history": result.history, "resumed": result.resumed}
