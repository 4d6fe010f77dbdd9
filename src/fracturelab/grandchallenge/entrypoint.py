"""The container's entrypoint: find the sockets and the model, run the algorithm, write outputs.

:func:`run_algorithm` is what ``fracturelab gc run`` (and ``python -m fracturelab.cli.gc
run``) calls. The task comes from ``--task`` (or ``FRACTURELAB_GC_TASK``), else from the model
folder, else from the input sockets present; a model folder of the other task is refused.
Every problem is an :class:`~fracturelab.errors.InputError` (one line), and ``/output`` then
holds nothing (:class:`~fracturelab.grandchallenge.staging.OutputStage`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.errors import InputError
from fracturelab.grandchallenge.sockets import (
    SOCKETS,
    Socket,
    environment_overrides,
    input_path,
    read_inputs_json,
    sockets_for,
)
from fracturelab.grandchallenge.staging import OutputStage

__all__ = [
    "DEFAULT_MODEL",
    "ENV_DEVICE",
    "ENV_MODEL",
    "ENV_TASK",
    "RunResult",
    "model_task",
    "resolve_model",
    "run_algorithm",
]

#: Where the platform extracts the model tarball.
DEFAULT_MODEL = Path("/opt/ml/model")
#: Environment variables a container sets (``gc build`` writes them into the Dockerfile).
ENV_MODEL = "FRACTURELAB_GC_MODEL"
ENV_TASK = "FRACTURELAB_GC_TASK"
ENV_DEVICE = "FRACTURELAB_GC_DEVICE"
_TASK_NAMES = {"spine": "spine (CT vertebral fractures)", "femur": "femur (AFF/NFF radiograph)"}


@dataclass
class RunResult:
    """What one run did.

    Attributes:
        task: ``spine`` or ``femur``.
        model_folder: The model applied, or ``None`` (spine morphometry only).
        written: Final output path by socket slug.
        details: The task's result (a ``ScanReading`` or a ``FemurPrediction``).

    """

    task: str
    model_folder: Path | None
    written: dict[str, Path] = field(default_factory=dict)
    details: Any = None


def model_task(folder: Path) -> str:
    """``spine`` or ``femur``, from the model folder's description file.

    Raises:
        InputError: The folder is missing or holds neither a spine nor a femur model.

    """
    if not folder.is_dir():
        raise InputError(
            f"model folder {folder} does not exist; give --model (or {ENV_MODEL}) or extract "
            f"the model tarball to {DEFAULT_MODEL}"
        )
    if (folder / "spine_model.json").is_file():
        return "spine"
    description = folder / "model.json"
    if description.is_file():
        try:
            task = json.loads(description.read_text(encoding="utf-8")).get("task")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            task = None
        if task == "femur-aff":
            return "femur"
    raise InputError(
        f"model folder {folder} holds neither a spine model (spine_model.json) nor a femur "
        "model (model.json, task femur-aff); give a folder such as runs/<run>/models/best"
    )


def resolve_model(model: Path | None) -> Path | None:
    """The model folder to apply, or ``None``.

    ``model``, else ``$FRACTURELAB_GC_MODEL``, else ``/opt/ml/model`` when it is not empty.
    """
    if model is not None:
        return Path(model)
    if os.environ.get(ENV_MODEL):
        return Path(os.environ[ENV_MODEL])
    if DEFAULT_MODEL.is_dir() and any(DEFAULT_MODEL.iterdir()):
        return DEFAULT_MODEL
    return None


def _inputs_task(
    input_dir: Path, listed: Mapping[str, Any] | None, overrides: Mapping[str, str]
) -> str | None:
    """The task whose required input sockets are present, if exactly one."""
    present = []
    for task in SOCKETS:
        required = [s for s in sockets_for(task, overrides).values() if s.is_input and s.required]
        if all(input_path(input_dir, s, listed) is not None for s in required):
            present.append(task)
    return present[0] if len(present) == 1 else None


def _slugs(task: str, overrides: Mapping[str, str]) -> str:
    inputs = [s.slug for s in sockets_for(task, overrides).values() if s.is_input and s.required]
    return ", ".join(inputs)


def _choose_task(
    task: str | None,
    model_folder: Path | None,
    input_dir: Path,
    listed: Mapping[str, Any] | None,
    overrides: Mapping[str, str],
) -> str:
    from_model = model_task(model_folder) if model_folder is not None else None
    from_inputs = _inputs_task(input_dir, listed, overrides)
    chosen = task or from_model or from_inputs
    if chosen is None:
        raise InputError(
            f"input folder {input_dir}: holds neither the spine sockets "
            f"({_slugs('spine', overrides)}) nor the femur socket "
            f"({_slugs('femur', overrides)}); give the task with --task "
            "and the sockets the platform lists in inputs.json"
        )
    if chosen not in SOCKETS:
        raise InputError(f"--task {chosen!r} is not valid; allowed: {', '.join(SOCKETS)}")
    if from_model is not None and from_model != chosen:
        raise InputError(
            f"model folder {model_folder} holds a {_TASK_NAMES[from_model]} model, but this "
            f"run is {_TASK_NAMES[chosen]} (inputs {_slugs(chosen, overrides)}); give the "
            f"{chosen} model folder"
        )
    return chosen


@contextmanager
def _precision(device: Any) -> Iterator[None]:
    """Mixed precision (float16 autocast) on a GPU; full precision elsewhere."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        with torch.autocast("cuda", dtype=torch.float16):
            yield
    else:
        with nullcontext():
            yield


def run_algorithm(
    input_dir: Path,
    output_dir: Path,
    *,
    model: Path | None = None,
    task: str | None = None,
    overrides: Mapping[str, str] | None = None,
    device: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the spine or femur algorithm on a platform-style input folder.

    Args:
        input_dir: ``/input``: ``inputs.json`` and the sockets' files (read only).
        output_dir: ``/output``: receives the outputs, all at once at the end.
        model: The model folder; default ``$FRACTURELAB_GC_MODEL``, else ``/opt/ml/model``.
        task: ``spine`` or ``femur``; default ``$FRACTURELAB_GC_TASK``, else the model's, else
            the one whose input sockets are present.
        overrides: Socket role -> slug (added to ``$FRACTURELAB_GC_SOCKETS``).
        device: ``auto``, ``cpu``, ``cuda`` ...; default ``$FRACTURELAB_GC_DEVICE`` or ``auto``.
        on_step: Told when each step starts.

    Returns:
        What was run and written.

    Raises:
        InputError: One line for any problem with the inputs, the model or the output folder.

    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    if not input_dir.is_dir():
        raise InputError(f"--input {input_dir}: no such folder; give the platform's /input")
    names = {**environment_overrides(), **(overrides or {})}
    listed = read_inputs_json(input_dir)
    model_folder = resolve_model(model)
    chosen = _choose_task(task or os.environ.get(ENV_TASK) or None, model_folder, input_dir,
                          listed, names)  # fmt: skip
    sockets: dict[str, Socket] = sockets_for(chosen, names)
    selected = None
    if model_folder is not None:  # PyTorch is loaded only for a model
        from fracturelab.training.device import select_device

        selected = select_device(device or os.environ.get(ENV_DEVICE) or "auto")
    result = RunResult(chosen, model_folder)
    with OutputStage(output_dir) as stage, _precision(selected):
        if chosen == "spine":
            from fracturelab.grandchallenge.spine import run_spine

            spine_model = None
            if model_folder is not None:
                from fracturelab.spine.learned.bundle import SpineModel

                spine_model = SpineModel.load(model_folder, selected or "cpu")
            result.details = run_spine(
                input_dir, stage, sockets, listed, spine_model, model_folder, on_step
            )
        else:
            if model_folder is None:
                raise InputError(
                    f"the femur algorithm needs a model: give --model, set {ENV_MODEL} or "
                    f"extract the model tarball to {DEFAULT_MODEL}"
                )
            from fracturelab.femur import FemurModel
            from fracturelab.grandchallenge.femur import run_femur

            if on_step is not None:
                on_step("loading the femur model")
            femur_model = FemurModel.load(model_folder, selected or "cpu")
            if on_step is not None:
                on_step("predicting")
            result.details = run_femur(input_dir, stage, sockets, listed, femur_model)
    result.written = stage.written
    return result
