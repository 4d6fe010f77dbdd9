"""A resumable training loop: checkpoints every epoch, early stopping, AMP on CUDA, progress.

The same loop trains in one process or, under :func:`fracturelab.training.launch` or
``torchrun``, in several processes with distributed data parallel (see ``docs/training.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, RandomSampler

from fracturelab.outputs import atomic_path, atomic_write_text
from fracturelab.training.config import TrainConfig
from fracturelab.training.device import seed_everything
from fracturelab.training.distributed import (
    Distributed,
    barrier,
    broadcast_score,
    gather,
    setup,
    sum_over_ranks,
)
from fracturelab.training.sampler import ShardedBatchSampler

#: ``TrainConfig`` is defined in the torch-free :mod:`fracturelab.training.config` and exported
#: here too, for callers that import it with :func:`fit`.
__all__ = ["FitResult", "TrainConfig", "fit"]

Batch = Mapping[str, torch.Tensor]
LossFunction = Callable[[nn.Module, Batch], torch.Tensor]
Validation = Callable[[nn.Module], float]


@dataclass
class FitResult:
    """What a training run did.

    Attributes:
        best_epoch: Epoch (1-based) whose weights were kept.
        best_score: Its validation score (higher is better), or ``None`` without validation.
        epochs_run: Epochs trained.
        history: Per epoch: ``epoch``, ``train_loss``, ``val_score``.
        resumed: Whether the run continued from a checkpoint (or was already finished).

    """

    best_epoch: int
    best_score: float | None
    epochs_run: int
    history: list[dict[str, float | None]] = field(default_factory=list)
    resumed: bool = False


def _save(state: dict[str, Any], path: Path) -> None:
    with atomic_path(path) as temporary:
        torch.save(state, temporary)


def _restore_rng(saved: dict[str, Any], run: Distributed) -> None:
    """Set this process's global RNG as it was when ``saved`` was written."""
    states = saved.get("torch_rng_ranks")
    if isinstance(states, list) and len(states) == run.world_size:
        torch.set_rng_state(states[run.rank])
    else:  # written by one process, or by a run of another size
        torch.set_rng_state(saved["torch_rng"])


def fit(
    model: nn.Module,
    train_set: Dataset[dict[str, torch.Tensor]],
    loss_fn: LossFunction,
    config: TrainConfig,
    checkpoint_dir: str | Path,
    *,
    validate: Validation | None = None,
    description: str = "training",
    progress: Any | None = None,
) -> FitResult:
    """Train ``model`` in place; resume from ``checkpoint_dir`` if a run was interrupted.

    Writes ``last.pt`` (everything needed to resume) after each epoch, ``best.pt`` (weights)
    whenever the validation score improves, and ``result.json`` when done; a finished run is
    not repeated: its best weights are loaded and its result returned.

    Under torchrun (``WORLD_SIZE`` > 1, e.g. through :func:`fracturelab.training.launch`),
    every process calls ``fit`` with the same arguments: the model is wrapped in
    ``DistributedDataParallel`` (on ``cuda:LOCAL_RANK``, or the CPU with ``gloo``), each global
    batch of ``config.batch_size`` items is shared out over the processes (so a step sees the
    items one process would see, and the result matches one process within float rounding),
    ``validate`` runs on rank 0 alone and its score is sent to every rank (so all stop at the
    same epoch), rank 0 alone writes files and shows progress, and the others wait for them.

    Args:
        model: The network; left on the chosen device holding the best weights (unwrapped:
            never a ``DistributedDataParallel``).
        train_set: Items are dicts of tensors, batched by the default collate.
        loss_fn: ``loss_fn(model, batch)`` -> scalar loss; batch tensors are on the device.
        config: Training settings; ``batch_size`` counts the items of one optimiser step over
            all processes.
        checkpoint_dir: Folder of this run's checkpoints.
        validate: ``validate(model)`` -> score, higher is better (model in eval mode); enables
            early stopping. Without it, all ``max_epochs`` are trained and the last is kept.
            Called on rank 0 only in a distributed run.
        description: Label of the progress bar.
        progress: A ``rich.progress.Progress`` to add a bar to, or ``None`` (used on rank 0).

    Returns:
        The :class:`FitResult`.

    """
    folder = Path(checkpoint_dir)
    run = setup(config.device)
    if run.is_main:
        folder.mkdir(parents=True, exist_ok=True)
    barrier(run)
    device = run.device
    model.to(device)
    if not run.is_main:
        progress = None
    done = folder / "result.json"
    if done.is_file() and (folder / "best.pt").is_file():
        model.load_state_dict(torch.load(folder / "best.pt", map_location=device))
        stored = json.loads(done.read_text(encoding="utf-8"))
        return FitResult(**{**stored, "resumed": True})

    # Every process draws the same order (``generator``); the global RNG differs per rank, so
    # that random augmentation differs between the items of one global batch.
    generator = seed_everything(config.seed + run.rank)
    generator.manual_seed(config.seed)
    sampler = ShardedBatchSampler(
        RandomSampler(train_set, generator=generator),  # type: ignore[arg-type]
        config.batch_size,
        run.rank,
        run.world_size,
    )
    loader = DataLoader(train_set, batch_sampler=sampler, generator=generator)
    steps_per_epoch = max(1, len(loader))
    total_steps = config.max_epochs * steps_per_epoch
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_steps))
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    state: dict[str, Any] = {"epoch": 0, "step": 0, "best_score": None, "best_epoch": 0}
    state.update(bad_epochs=0, history=[])
    resumed = False
    last = folder / "last.pt"
    if last.is_file():
        saved = torch.load(last, map_location=device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        generator.set_state(saved["generator"])
        _restore_rng(saved, run)
        state = saved["state"]
        resumed = True
    # Wrapped after loading, so that every rank starts from the same (rank 0's) weights.
    network: nn.Module = model
    if run.enabled:
        # Unused parameters are allowed: a head without labels in a batch gets no gradient.
        network = DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )

    task = None
    if progress is not None:
        task = progress.add_task(description, total=total_steps, completed=state["step"])
    while state["epoch"] < config.max_epochs and state["step"] < total_steps:
        network.train()
        losses = []
        for index, batch in enumerate(loader):
            moved = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_fn(network, moved)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{description}: the loss became {loss.item()}")
            weighted = loss * sampler.weight(index) if run.enabled else loss
            scaled: torch.Tensor = scaler.scale(weighted)
            scaled.backward()  # type: ignore[no-untyped-call]
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            # this rank's part of the global batch's mean loss (the loss itself in one process)
            share = sampler.weight(index) / run.world_size if run.enabled else 1.0
            losses.append(float(loss.detach()) * share)
            state["step"] += 1
            if progress is not None:
                progress.advance(task)
            if state["step"] >= total_steps:
                break
        state["epoch"] += 1
        score: float | None = None
        if validate is not None:
            if run.is_main:
                model.eval()
                with (
                    torch.no_grad(),
                    torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp),
                ):
                    score = float(validate(model))
            else:
                score = float("nan")  # replaced by rank 0's
            score = broadcast_score(score, run)
        train_loss = sum_over_ranks(sum(losses), run) / max(1, len(losses))
        state["history"].append(
            {"epoch": state["epoch"], "train_loss": train_loss, "val_score": score}
        )
        improved = (
            validate is None
            or state["best_score"] is None
            or (score is not None and score > state["best_score"])
        )
        if improved:
            state.update(best_score=score, best_epoch=state["epoch"], bad_epochs=0)
            if run.is_main:
                _save(model.state_dict(), folder / "best.pt")
        else:
            state["bad_epochs"] += 1
        if progress is not None and score is not None:
            progress.update(task, description=f"{description} (val {score:.3f})")
        rng_states = gather(torch.get_rng_state(), run)
        if run.is_main:
            _save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "torch_rng_ranks": rng_states,
                    "state": state,
                    "config": asdict(config),
                    "world_size": run.world_size,
                },
                last,
            )
        barrier(run)
        if validate is not None and state["bad_epochs"] >= config.patience:
            break
    if progress is not None:
        progress.update(task, completed=total_steps)
    model.load_state_dict(torch.load(folder / "best.pt", map_location=device))
    result = FitResult(state["best_epoch"], state["best_score"], state["epoch"], state["history"])
    barrier(run)  # every rank has read best.pt
    if run.is_main:
        payload = {k: v for k, v in asdict(result).items() if k != "resumed"}
        atomic_write_text(done, json.dumps(payload))
        last.unlink(missing_ok=True)
    barrier(run)
    return FitResult(**{**asdict(result), "resumed": resumed})
