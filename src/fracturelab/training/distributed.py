"""Training in several processes (one per GPU) with distributed data parallel.

:func:`launch` runs a function in ``devices`` processes through torchrun's elastic agent
(:func:`torch.distributed.launcher.api.elastic_launch`, standalone rendezvous on localhost);
:func:`fracturelab.training.fit` called inside those processes (or in a script started with
``torchrun``) finds the run through :func:`setup` and trains one model together with the other
processes. See ``docs/training.md``.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from fracturelab.checks import check_choice
from fracturelab.errors import InputError
from fracturelab.training.device import select_device

__all__ = [
    "BACKENDS",
    "Distributed",
    "barrier",
    "broadcast_score",
    "check_devices",
    "gather",
    "is_main_process",
    "launch",
    "setup",
    "sum_over_ranks",
]

#: Process-group backends: NCCL between GPUs, Gloo on the CPU.
BACKENDS = ("gloo", "nccl")

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """Where this process stands in the run.

    Attributes:
        rank: This process, ``0 <= rank < world_size``.
        world_size: Processes training the model together (1: no distribution).
        local_rank: This process on its machine (the GPU it uses).
        device: The device this process computes on.

    """

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def enabled(self) -> bool:
        """Whether more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and shows progress (rank 0)."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def is_main_process() -> bool:
    """Whether this process is rank 0 (or not distributed): the one that writes shared files.

    Reads ``RANK`` from the environment (set by torchrun and :func:`launch`), so it can be
    asked before :func:`setup`, e.g. to let rank 0 alone write splits, predictions and reports
    around the training.
    """
    return _env_int("RANK", 0) == 0


def setup(device: str = "auto") -> Distributed:
    """Find the distributed run this process belongs to, joining its process group if needed.

    Without ``WORLD_SIZE`` > 1 in the environment (and no process group), this is the single
    process on :func:`~fracturelab.training.select_device`'s device. Under torchrun, each
    process computes on ``cuda:LOCAL_RANK`` (``device`` ``"auto"`` or ``"cuda"`` with CUDA
    present) or on the CPU, and the default process group is initialised from the environment
    (``nccl`` on CUDA, ``gloo`` on the CPU) unless it already is.

    Args:
        device: The training configuration's device (``TrainConfig.device``).

    Raises:
        InputError: If the device cannot be shared out over processes (one named GPU, MPS),
            or the process group's backend cannot drive the device.

    """
    initialised = dist.is_available() and dist.is_initialized()
    world_size = dist.get_world_size() if initialised else _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return Distributed(0, 1, 0, select_device(device))
    if not dist.is_available():
        raise InputError("WORLD_SIZE > 1 but this PyTorch has no torch.distributed; use 1 device")
    local_rank = _env_int("LOCAL_RANK", 0)
    base = device.split(":")[0]
    if ":" in device or base == "mps":
        raise InputError(
            f"device={device!r} cannot be shared by {world_size} processes; "
            "use device=auto, cuda or cpu with --devices"
        )
    chosen = torch.device("cpu")
    if base in ("auto", "cuda") and torch.cuda.is_available():
        if local_rank >= torch.cuda.device_count():
            raise InputError(
                f"process {local_rank} has no GPU of its own ({torch.cuda.device_count()} "
                "found); use --devices <= the number of GPUs"
            )
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    elif base == "cuda":
        select_device(device)  # raises: no CUDA GPU
    if not initialised:
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    elif chosen.type == "cpu" and dist.get_backend() == "nccl":
        raise InputError(
            "the process group uses nccl, which cannot train on the CPU; "
            "use backend='gloo' or device=cuda"
        )
    return Distributed(dist.get_rank(), dist.get_world_size(), local_rank, chosen)


def barrier(run: Distributed) -> None:
    """Wait until every process of ``run`` gets here (nothing to do in a single process)."""
    if run.enabled:
        if run.device.type == "cuda":
            dist.barrier(device_ids=[run.device.index or 0])
        else:
            dist.barrier()


def broadcast_score(score: float | None, run: Distributed) -> float | None:
    """Return rank 0's ``score`` in every process (``None`` stays ``None``).

    Args:
        score: The value on rank 0 (what other ranks pass is ignored, but must be ``None``
            exactly when rank 0's is).
        run: The run.

    """
    if not run.enabled or score is None:
        return score
    value = torch.tensor([score], dtype=torch.float64, device=run.device)
    dist.broadcast(value, src=0)
    return float(value.item())


def sum_over_ranks(value: float, run: Distributed) -> float:
    """Return the sum of every rank's ``value`` (in float64), in every process."""
    if not run.enabled:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=run.device)
    dist.all_reduce(total)
    return float(total.item())


def gather(value: Any, run: Distributed) -> list[Any]:
    """Return every rank's ``value`` (picklable), in rank order, in every process."""
    if not run.enabled:
        return [value]
    values: list[Any] = [None] * run.world_size
    dist.all_gather_object(values, value)
    return values


def _cpu_threads(devices: int) -> int:
    """Threads per process so that ``devices`` CPU processes share the cores without contention."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // devices)


def _worker(
    function: Callable[..., T],
    args: tuple[Any, ...],
    backend: str | None,
    errors: str,
    threads: int,
) -> T:
    """One process of :func:`launch`: join the group, run ``function``, report its error."""
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        if backend is not None:
            if backend == "nccl":
                torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
            dist.init_process_group(backend)
        result = function(*args)
    except Exception as error:
        text = traceback.format_exc()
        try:
            pickle.dumps(error)
            kept: Exception = error
        except Exception:  # an error that cannot travel: keep its type name and message
            kept = RuntimeError(f"{type(error).__name__}: {error}")
        path = Path(errors) / f"rank{_env_int('RANK', 0)}.pkl"
        path.write_bytes(pickle.dumps((kept, text)))
        raise
    if dist.is_initialized():
        dist.destroy_process_group()
    return result


@contextmanager
def _quiet_agent() -> Iterator[None]:
    """Keep the agent's own log of a worker's failure off the console (launch re-raises it)."""
    loggers = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.multiprocessing")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def check_devices(devices: int, backend: str | None) -> None:
    """Refuse a process count the machine cannot run, before any work (one-line errors).

    Args:
        devices: Processes asked for (``--devices``).
        backend: ``"gloo"`` (CPU processes), ``"nccl"`` (one GPU each) or ``None`` (GPUs when
            there are any, else CPU).

    Raises:
        InputError: For fewer than one process, an unknown backend, ``nccl`` without GPUs, or
            more GPU processes than GPUs.

    """
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise InputError(f"--devices {devices!r} is not valid; use 1 or more processes")
    if backend is not None:
        check_choice("backend", backend, BACKENDS)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if backend == "nccl" and gpus == 0:
        raise InputError("backend='nccl' needs CUDA GPUs and none is visible; use backend='gloo'")
    if (backend == "nccl" or (backend is None and gpus > 0)) and devices > gpus:
        raise InputError(
            f"--devices {devices} asks for {devices} GPUs but this machine has {gpus}; "
            f"use --devices {gpus} or fewer"
        )


def launch(function: Callable[..., T], *args: Any, devices: int, backend: str | None = None) -> T:
    """Run ``function(*args)`` in ``devices`` processes; return rank 0's result.

    The processes are started with torchrun's elastic agent (``spawn``, standalone rendezvous
    on a free localhost port, no restarts), each with ``RANK``, ``LOCAL_RANK`` and
    ``WORLD_SIZE`` set; :func:`fracturelab.training.fit` inside them trains one model together.
    ``devices=1`` calls ``function`` in this process. ``function`` and ``args`` are pickled:
    the function must be importable (defined at the top of a module, no lambda). CPU
    processes share the cores (``torch.set_num_threads``) unless ``OMP_NUM_THREADS`` is set.

    Args:
        function: What each process runs.
        *args: Its arguments.
        devices: Processes (one per GPU on CUDA; any number of CPU processes without CUDA
            or with ``backend="gloo"``, e.g. for tests).
        backend: ``"nccl"`` or ``"gloo"`` to initialise the process group before
            ``function`` runs, or ``None`` to let :func:`setup` choose from the device
            (``nccl`` on CUDA, ``gloo`` on the CPU).

    Returns:
        What ``function`` returned in rank 0.

    Raises:
        InputError: If ``devices`` < 1, or more GPUs are asked for than exist.
        Exception: The first failing process's own error (its traceback added as a note).

    """
    check_devices(devices, backend)
    if devices == 1:
        return function(*args)
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    uses_gpu = backend == "nccl" or (backend is None and torch.cuda.is_available())
    threads = 0 if uses_gpu or os.environ.get("OMP_NUM_THREADS") else _cpu_threads(devices)
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=devices,
        run_id=f"fracturelab-{uuid.uuid4().hex}",
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        max_restarts=0,
        monitor_interval=0.1,
        start_method="spawn",
    )
    with tempfile.TemporaryDirectory(prefix="fracturelab-launch-") as errors, _quiet_agent():
        try:
            results = elastic_launch(config, _worker)(function, args, backend, errors, threads)
        except ChildFailedError as failure:
            first, _ = failure.get_first_failure()
            reports = sorted(Path(errors).glob("rank*.pkl"), key=lambda p: p.stat().st_mtime)
            own = Path(errors) / f"rank{first}.pkl"
            if own.is_file():
                reports.insert(0, own)
            if not reports:
                raise
            error, text = pickle.loads(reports[0].read_bytes())  # our own worker's file
            error.add_note(f"in one of {devices} processes:\n{text}")
            raise error from failure
    return results[0]  # type: ignore[no-any-return]
