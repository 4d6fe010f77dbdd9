"""The platform, simulated: its input folder, the entrypoint in a process, outputs checked.

The input folder is laid out as grand-challenge writes it (``inputs.json``, uuid-named images),
the entrypoint runs in a separate process as in the container, and every output is checked
against its socket.

``fracturelab gc test`` and the health check's ``gc selftest`` use these, and so do the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fracturelab.errors import FracturelabError, InputError
from fracturelab.grandchallenge.sockets import IMAGE_SUFFIXES, Socket, sockets_for
from fracturelab.grandchallenge.values import check_value

__all__ = [
    "SCHEMAS_BY_ROLE",
    "SimulationResult",
    "check_outputs",
    "make_input_folder",
    "read_only",
    "simulate",
]

#: fracturelab's own schema of each "Anything" output, by role.
SCHEMAS_BY_ROLE = {
    "results": "spine-vertebra-results",
    "summary": "spine-fracture-summary",
    "prediction": "femur-prediction",
}
#: Outputs written only in some runs: the spine probability (with a model), the femur centre
#: (patch models).
OPTIONAL_OUTPUTS = {"probability", "center"}


@dataclass
class SimulationResult:
    """The entrypoint's exit status, its messages and the checked outputs.

    Attributes:
        returncode: The entrypoint's exit status.
        stderr: What it wrote on standard error.
        outputs: Final path of each output, by socket slug (checked).

    """

    returncode: int
    stderr: str
    outputs: dict[str, Path] = field(default_factory=dict)


def make_input_folder(
    folder: Path,
    task: str,
    cases: Mapping[str, Path],
    overrides: Mapping[str, str] | None = None,
) -> Path:
    """Lay out ``cases`` (input role -> file) as the platform does, with ``inputs.json``.

    Each image becomes ``<folder>/<relative_path>/<uuid>.mha`` (an ``.mha`` or ``.tif`` is
    copied unchanged, anything else SimpleITK reads is converted, keeping its geometry).

    Raises:
        InputError: A case file is missing, unreadable, or its role is not an input of ``task``.

    """
    import SimpleITK as sitk

    sockets = sockets_for(task, overrides)
    entries = []
    folder.mkdir(parents=True, exist_ok=True)
    for role, source in cases.items():
        socket = sockets.get(role)
        if socket is None or not socket.is_input:
            inputs = ", ".join(s.role for s in sockets.values() if s.is_input)
            raise InputError(f"case role {role!r} is not an input of {task}; allowed: {inputs}")
        source = Path(source)
        if not source.is_file():
            raise InputError(f"case {source}: no such file; check the path")
        name = str(uuid.uuid4())
        target_dir = folder / socket.relative_path
        target_dir.mkdir(parents=True, exist_ok=True)
        suffix = source.suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            shutil.copyfile(source, target_dir / f"{name}{suffix}")
        else:
            try:
                image = sitk.ReadImage(str(source))
            except RuntimeError:
                raise InputError(
                    f"case {source}: cannot be read as an image; give .mha, .tif, NIfTI or NRRD"
                ) from None
            sitk.WriteImage(image, str(target_dir / f"{name}.mha"), useCompression=True)
        entries.append(_entry(socket, name))
    text = json.dumps(entries, indent=2) + "\n"
    (folder / "inputs.json").write_text(text, encoding="utf-8")
    return folder


def _entry(socket: Socket, name: str) -> dict[str, Any]:
    """One ``inputs.json`` entry, in the layout the platform writes."""
    return {
        "interface": {
            "slug": socket.slug,
            "kind": socket.kind,
            "super_kind": "Image" if socket.is_image else "Value",
            "relative_path": socket.relative_path,
        },
        "value": None,
        "file": None,
        "image": {"name": f"{name}.mha"} if socket.is_image else None,
    }


def read_only(folder: Path) -> None:
    """Make a folder and everything in it read-only, as the platform mounts ``/input``."""
    for path in sorted(folder.rglob("*"), reverse=True):
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    folder.chmod(folder.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def check_outputs(
    output_dir: Path, task: str, overrides: Mapping[str, str] | None = None
) -> dict[str, Path]:
    """Check every output of ``task`` as the platform would, and that nothing else is there.

    JSON values must validate against their socket kind's schema (and fracturelab's own for
    "Anything" sockets); each image socket's folder must hold exactly one readable image.

    Returns:
        The checked output files by socket slug.

    Raises:
        InputError: Every problem found, one line each (``problems`` attribute).

    """
    import SimpleITK as sitk

    problems: list[str] = []
    found: dict[str, Path] = {}
    expected: set[Path] = set()
    for socket in sockets_for(task, overrides).values():
        if socket.is_input:
            continue
        path = output_dir / socket.relative_path
        expected.add(path)
        if socket.is_image:
            images = sorted(path.glob("*")) if path.is_dir() else []
            if len(images) != 1 or images[0].suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(f"{socket.slug}: {path} must hold exactly one .mha/.tif")
                continue
            try:
                sitk.ReadImage(str(images[0]))
            except RuntimeError:
                problems.append(f"{socket.slug}: {images[0]} cannot be read as an image")
                continue
            found[socket.slug] = images[0]
            continue
        if not path.is_file():
            if socket.role not in OPTIONAL_OUTPUTS:
                problems.append(f"{socket.slug}: {path} is missing")
            continue
        try:
            value = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
            check_value(value, socket.kind, SCHEMAS_BY_ROLE.get(socket.role))
        except (ValueError, FracturelabError) as error:
            problems.append(f"{socket.slug}: {path.name}: {str(error).splitlines()[0]}")
            continue
        found[socket.slug] = path
    for path in sorted(output_dir.rglob("*")) if output_dir.is_dir() else []:
        if path.is_file() and not any(path == e or e in path.parents for e in expected):
            problems.append(f"{path} is not an output socket's file")
    if problems:
        raise _OutputProblemsError(f"{len(problems)} output problems in {output_dir}", problems)
    return found


class _OutputProblemsError(InputError):
    """Several output problems: ``user_errors`` prints one line each."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"holds {name}, which is not JSON")


def simulate(
    input_dir: Path,
    output_dir: Path,
    task: str,
    *,
    model: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    timeout_s: float = 3600.0,
) -> SimulationResult:
    """Run the entrypoint in a new process on ``input_dir`` and check what it wrote.

    The process gets the container's environment: ``--input`` / ``--output``, the task and
    model through ``FRACTURELAB_GC_*`` variables, no terminal.

    Raises:
        InputError: The entrypoint failed (its last stderr line) or an output is invalid.

    """
    env = dict(os.environ)
    env["FRACTURELAB_GC_TASK"] = task
    if model is not None:
        env["FRACTURELAB_GC_MODEL"] = str(model)
    if overrides:
        env["FRACTURELAB_GC_SOCKETS"] = ",".join(f"{k}={v}" for k, v in overrides.items())
    command = [sys.executable, "-m", "fracturelab.cli.gc", "run"]
    command += ["--input", str(input_dir), "--output", str(output_dir), "--quiet"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise InputError(
            f"the entrypoint ran past {timeout_s:g} s on {input_dir}; the platform would stop it"
        ) from None
    result = SimulationResult(done.returncode, done.stderr)
    if done.returncode != 0:
        last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["no message"]
        raise InputError(f"the entrypoint failed (exit {done.returncode}): {last[0]}")
    result.outputs = check_outputs(output_dir, task, overrides)
    return result
