"""``gc build``: a Docker build context for a spine or femur model.

The context holds ``Dockerfile.cpu`` (official ``python`` base, PyTorch's CPU wheels) and
``Dockerfile.cuda`` (official ``pytorch/pytorch`` CUDA runtime base), ``requirements.txt`` /
``requirements-cuda.txt`` (every dependency pinned to the version installed where the context
is built), ``source/`` (fracturelab's source tree, installed without network access to
anything but the package index at build time), ``model/`` (copied to ``/opt/ml/model``),
``sockets.json`` (the sockets to create on the platform), a test case in ``test/input`` and
the platform template's ``do_test_run.sh`` and ``do_save.sh``. Nothing is downloaded when the
container runs.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import tempfile
from importlib import metadata, resources
from pathlib import Path
from string import Template

from fracturelab.errors import InputError
from fracturelab.grandchallenge.entrypoint import ENV_MODEL, ENV_TASK, model_task
from fracturelab.grandchallenge.sockets import ENV_SOCKETS, sockets_for

__all__ = [
    "CPU_TORCH_INDEX",
    "installed_constraints",
    "pinned_requirements",
    "source_tree",
    "write_build_context",
]

#: Where the CPU image takes PyTorch's CPU wheels from (build time only).
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
_SOURCE_PARTS = ("pyproject.toml", "README.md", "LICENSE", "src")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".mypy_cache")
_TEMPLATES = ("Dockerfile.cpu", "Dockerfile.cuda", "do_test_run.sh", "do_save.sh")


def source_tree() -> Path | None:
    """Fracturelab's source tree (the folder with ``pyproject.toml`` above ``src/``), if any."""
    package = Path(str(resources.files("fracturelab")))
    root = package.parents[1]
    return root if (root / "pyproject.toml").is_file() and package.parent.name == "src" else None


def _requirement_name(text: str) -> str | None:
    """The distribution name of a requirement without extras' markers, or ``None``."""
    if ";" in text and "extra ==" in text.split(";", 1)[1]:
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?", text)
    return None if match is None else match.group(1) + (match.group(2) or "")


def pinned_requirements(with_torch: bool = True) -> list[str]:
    """Fracturelab's dependencies pinned to the installed versions (``name==version``).

    Raises:
        InputError: fracturelab is not installed as a distribution, or a dependency is missing.

    """
    try:
        requires = metadata.requires("fracturelab") or []
    except metadata.PackageNotFoundError:
        raise InputError(
            "fracturelab is not installed as a package (no metadata); install it with "
            "pip install -e . before gc build"
        ) from None
    pins = []
    for text in requires:
        name = _requirement_name(text)
        if name is None:
            continue
        base = name.split("[", 1)[0]
        if base.lower() == "torch" and not with_torch:
            continue
        try:
            version = metadata.version(base)
        except metadata.PackageNotFoundError:
            raise InputError(
                f"dependency {base} of fracturelab is not installed here, so its version cannot "
                "be pinned; install the package's dependencies first"
            ) from None
        version = version.split("+", 1)[0]  # a local build tag (2.3.0+cpu) is not on the index
        pins.append(f"{name}=={version}")
    return sorted(pins, key=str.lower)


def installed_constraints() -> list[str]:
    """Every installed distribution pinned (``name==version``), for ``pip -c``.

    fracturelab itself, PyTorch and NVIDIA's CUDA wheels are left out: fracturelab is
    installed from ``source/``, PyTorch by the requirements (CPU) or the base image (CUDA).
    """
    pins = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if (
            not name
            or name.lower() in ("fracturelab", "torch")
            or name.lower().startswith(("nvidia-", "triton"))
        ):
            continue
        pins[name.lower()] = f"{name}=={distribution.version.split('+', 1)[0]}"
    return [pins[key] for key in sorted(pins)]


def _render(name: str, values: dict[str, str]) -> str:
    text = resources.files("fracturelab.grandchallenge").joinpath(f"templates/{name}")
    return Template(text.read_text(encoding="utf-8")).safe_substitute(values)


def write_build_context(
    model: Path,
    out: Path,
    *,
    task: str | None = None,
    source: Path | None = None,
    python_base: str | None = None,
    cuda_base: str | None = None,
    test_case: bool = True,
) -> dict[str, Path]:
    """Write the build context of ``model`` into ``out`` (all at once: nothing half-written).

    Args:
        model: A spine (``spine_model.json``) or femur (``model.json``) model folder.
        out: The context folder; must not exist or be empty.
        task: ``spine`` or ``femur``; must agree with the model (default: the model's).
        source: fracturelab's source tree; default the one this package runs from.
        python_base: Base of the CPU image; default ``python:<X.Y>-slim`` of this Python.
        cuda_base: Base of the CUDA image; default
            ``pytorch/pytorch:<torch>-cuda12.4-cudnn9-runtime``.
        test_case: Write a phantom case to ``test/input`` for ``do_test_run.sh``.

    Returns:
        The written files by name.

    Raises:
        InputError: One line for a missing or foreign model, an unusable ``out`` or source.

    """
    model, out = Path(model), Path(out)
    found = model_task(model)
    if task is not None and task != found:
        raise InputError(
            f"--model {model} holds a {found} model, not a {task} one; give --task {found}"
        )
    tree = source if source is not None else source_tree()
    if tree is None or not (Path(tree) / "pyproject.toml").is_file():
        raise InputError(
            f"--source {tree or '(not found)'}: no fracturelab source tree with pyproject.toml; "
            "give --source with the repository's folder"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {out}: exists and is not an empty folder; give a new folder")
    torch_version = metadata.version("torch").split("+", 1)[0]
    python = ".".join(platform.python_version_tuple()[:2])
    values = {
        "task": found,
        "image_tag": f"fracturelab-{found}",
        "torch_index": CPU_TORCH_INDEX,
        "environment": (
            f"ENV {ENV_TASK}={found} \\\n    {ENV_MODEL}=/opt/ml/model \\\n"
            f"    {ENV_SOCKETS}= \\\n    MPLCONFIGDIR=/tmp/matplotlib \\\n"
            "    HF_HUB_OFFLINE=1\n"
        ),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        for name in _TEMPLATES:
            base = python_base or f"python:{python}-slim"
            if name == "Dockerfile.cuda":
                base = cuda_base or f"pytorch/pytorch:{torch_version}-cuda12.4-cudnn9-runtime"
            text = _render(name, {**values, "base_image": base})
            (staging / name).write_text(text, encoding="utf-8")
            if name.endswith(".sh"):
                (staging / name).chmod(0o755)
        (staging / ".dockerignore").write_text(_render("dockerignore", values), encoding="utf-8")
        (staging / "requirements.txt").write_text(
            "\n".join(pinned_requirements()) + "\n", encoding="utf-8"
        )
        (staging / "requirements-cuda.txt").write_text(
            "\n".join(pinned_requirements(with_torch=False)) + "\n", encoding="utf-8"
        )
        (staging / "constraints.txt").write_text(
            "\n".join(installed_constraints()) + "\n", encoding="utf-8"
        )
        for part in _SOURCE_PARTS:
            origin = Path(tree) / part
            if origin.is_dir():
                shutil.copytree(origin, staging / "source" / part, ignore=_SKIP)
            elif origin.is_file():
                (staging / "source").mkdir(exist_ok=True)
                shutil.copy2(origin, staging / "source" / part)
        shutil.copytree(model, staging / "model", ignore=_SKIP)
        sockets = [s.to_dict() for s in sockets_for(found).values()]
        document = {"task": found, "sockets": sockets}
        (staging / "sockets.json").write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        if test_case:
            _write_test_case(staging / "test" / "input", found)
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()
        staging.replace(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {p.name: p for p in sorted(out.iterdir())}


def _write_test_case(folder: Path, task: str) -> None:
    """The selftest's phantom laid out as the platform's ``/input``."""
    from fracturelab.grandchallenge.selftest import femur_case, spine_case
    from fracturelab.grandchallenge.simulate import make_input_folder

    with tempfile.TemporaryDirectory(prefix="fracturelab-case-") as scratch:
        case = Path(scratch)
        if task == "spine":
            spine_case(case)
            cases = {"ct": case / "ct.mha", "vertebrae": case / "mask.mha"}
        else:
            cases = {"radiograph": femur_case(case)}
        make_input_folder(folder, task, cases)
