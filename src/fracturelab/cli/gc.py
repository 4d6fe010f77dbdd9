"""``fracturelab gc``: grand-challenge.org algorithm containers (docs/grand-challenge.md).

Also runnable as ``python -m fracturelab.cli.gc``, which is the containers' entrypoint.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fracturelab.cli._common import user_errors

__all__ = ["app"]

app = typer.Typer(
    help="grand-challenge.org algorithm containers: build, run (the entrypoint), test locally.",
    no_args_is_help=True,
)

SocketOption = Annotated[
    list[str] | None,
    typer.Option(
        "--socket",
        help="Rename a socket: ROLE=SLUG (e.g. ct=ct-image); repeatable. Also "
        "FRACTURELAB_GC_SOCKETS=ROLE=SLUG,... in the environment.",
    ),
]


@app.command()
def run(
    input: Annotated[Path, typer.Option(help="The platform's input folder.")] = Path("/input"),
    output: Annotated[Path, typer.Option(help="The platform's output folder.")] = Path("/output"),
    model: Annotated[
        Path | None,
        typer.Option(
            help="Model folder; default $FRACTURELAB_GC_MODEL, else /opt/ml/model. A spine run "
            "without a model grades by morphometry only."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="spine or femur; default $FRACTURELAB_GC_TASK, else the model's."),
    ] = None,
    socket: SocketOption = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda, cuda:N; default $FRACTURELAB_GC_DEVICE.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, no summary.")] = False,
) -> None:
    """The container's entrypoint: read /input, write /output (all at once, or nothing)."""
    with user_errors():
        from fracturelab.grandchallenge.entrypoint import run_algorithm
        from fracturelab.grandchallenge.sockets import parse_overrides

        overrides = parse_overrides(socket or [])
        show = not quiet and sys.stderr.isatty()
        from rich.console import Console

        console = Console(stderr=True, quiet=not show)
        with console.status("starting") as status:
            result = run_algorithm(
                input,
                output,
                model=model,
                task=task,
                overrides=overrides,
                device=device,
                on_step=lambda text: status.update(text),
            )
        if not quiet:
            where = result.model_folder or "none (morphometry only)"
            print(f"{result.task}: model {where}")
            for slug, path in result.written.items():
                print(f"wrote {slug}: {path}")


@app.command()
def build(
    model: Annotated[Path, typer.Option(help="Model folder (runs/<run>/models/best).")],
    out: Annotated[Path, typer.Option(help="New folder for the build context.")],
    task: Annotated[
        str | None, typer.Option(help="spine or femur; must match the model (default: its task).")
    ] = None,
    source: Annotated[
        Path | None, typer.Option(help="fracturelab source tree; default the one running.")
    ] = None,
    python_base: Annotated[
        str | None, typer.Option(help="CPU image base; default python:<this X.Y>-slim.")
    ] = None,
    cuda_base: Annotated[
        str | None,
        typer.Option(
            help="CUDA image base; default pytorch/pytorch:<torch>-cuda12.4-cudnn9-runtime."
        ),
    ] = None,
) -> None:
    """Write a Docker build context: Dockerfiles (CPU, CUDA), pinned requirements, model."""
    with user_errors():
        from fracturelab.grandchallenge.build import write_build_context
        from fracturelab.outputs import check_output_dir

        check_output_dir(out, "--out")
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("writing the build context"):
            written = write_build_context(
                model, out, task=task, source=source, python_base=python_base, cuda_base=cuda_base
            )
        for name in written:
            print(f"wrote {out / name}")
        print(f"next: cd {out} && ./do_test_run.sh && ./do_save.sh (see docs/grand-challenge.md)")


@app.command()
def test(
    context: Annotated[
        Path, typer.Argument(help="A build context (gc build --out) or a model folder.")
    ],
    case: Annotated[
        Path, typer.Option(help="The case's image: the CT (spine) or the radiograph (femur).")
    ],
    case_mask: Annotated[
        Path | None, typer.Option(help="Spine: the CT's vertebra label map.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Where input/ and output/ are made; default <context>/test-run."),
    ] = None,
    socket: SocketOption = None,
) -> None:
    """Simulate the platform: lay out /input, run the entrypoint in a process, check /output."""
    with user_errors():
        from fracturelab.errors import InputError
        from fracturelab.grandchallenge.entrypoint import model_task
        from fracturelab.grandchallenge.simulate import make_input_folder, read_only, simulate
        from fracturelab.grandchallenge.sockets import parse_overrides

        overrides = parse_overrides(socket or [])
        model = context / "model" if (context / "model").is_dir() else context
        task = model_task(model)
        cases = {"ct": case, "vertebrae": case_mask} if task == "spine" else {"radiograph": case}
        if task == "femur" and case_mask is not None:
            raise InputError("--case-mask is for spine models; this is a femur model")
        root = out if out is not None else context / "test-run"
        for part in ("input", "output"):
            if (root / part).exists():
                raise InputError(f"--out {root}: {root / part} exists; remove it or give --out")
        present = {role: path for role, path in cases.items() if path is not None}
        input_dir = make_input_folder(root / "input", task, present, overrides)
        read_only(input_dir)
        result = simulate(input_dir, root / "output", task, model=model, overrides=overrides)
        for slug, path in result.outputs.items():
            print(f"ok {slug}: {path}")
        print(f"{task}: {len(result.outputs)} outputs valid against their sockets' schemas")


@app.command()
def selftest(
    task: Annotated[str, typer.Option(help="spine or femur.")] = "spine",
    model: Annotated[
        Path | None,
        typer.Option(help="Model folder; default $FRACTURELAB_GC_MODEL, /opt/ml/model."),
    ] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda ...")] = None,
) -> None:
    """The health check: the entrypoint on a built-in phantom, every output checked."""
    with user_errors():
        from fracturelab.checks import check_choice
        from fracturelab.grandchallenge.selftest import run_selftest

        check_choice("--task", task, ("spine", "femur"))
        print(run_selftest(task, model, device))


if __name__ == "__main__":
    app()
