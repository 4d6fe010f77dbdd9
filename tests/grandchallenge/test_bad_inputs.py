"""Bad inputs: each a non-zero exit, one line naming the problem, and nothing in /output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.gc import app
from fracturelab.grandchallenge.simulate import make_input_folder, read_only
from tests.cli.helpers import one_line_error
from tests.grandchallenge.test_entrypoint import entrypoint

runner = CliRunner()


def _spine_input(root: Path, spine_case: dict[str, object], **cases: Path) -> Path:
    chosen = {"ct": spine_case["ct"], "vertebrae": spine_case["vertebrae"], **cases}
    present = {role: Path(str(path)) for role, path in chosen.items() if path is not None}
    return make_input_folder(root / "input", "spine", present)


def _run(root: Path, model: Path | None, *fragments: str) -> None:
    args = ["run", "--input", str(root / "input"), "--output", str(root / "output")]
    if model is not None:
        args += ["--model", str(model)]
    result = runner.invoke(app, args)
    one_line_error(result, *fragments)
    output = root / "output"
    assert not output.exists() or not any(output.rglob("*")), list(output.rglob("*"))


@pytest.fixture(autouse=True)
def _no_platform_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fracturelab.grandchallenge import entrypoint as module

    monkeypatch.delenv("FRACTURELAB_GC_MODEL", raising=False)
    monkeypatch.setattr(module, "DEFAULT_MODEL", tmp_path / "no-model")


def test_missing_ct_socket(
    spine_case: dict[str, object], spine_model: Path, tmp_path: Path
) -> None:
    _spine_input(tmp_path, spine_case, ct=None)  # type: ignore[arg-type]
    _run(tmp_path, spine_model, "input socket ct-image", "missing", "inputs.json does not list it")


def test_missing_segmentation_without_a_segmenter(
    spine_case: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no TotalSegmentator on the PATH
    _spine_input(tmp_path, spine_case, vertebrae=None)  # type: ignore[arg-type]
    _run(tmp_path, None, "vertebra-segmentation", "no segmenter (TotalSegmentator)")


def test_two_images_in_one_socket(spine_case: dict[str, object], tmp_path: Path) -> None:
    input_dir = _spine_input(tmp_path, spine_case)
    shutil.copyfile(Path(str(spine_case["ct"])), input_dir / "images" / "ct-image" / "b.mha")
    _run(tmp_path, None, "ct-image", "holds 2 images", "exactly one")


def test_2d_image_in_the_ct_socket(spine_case: dict[str, object], tmp_path: Path) -> None:
    import numpy as np
    import SimpleITK as sitk

    flat = tmp_path / "flat.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((40, 50), np.int16)), str(flat))
    _spine_input(tmp_path, spine_case, ct=flat)
    _run(tmp_path, None, "CT", "2D image", "not a 3D volume")


def test_segmentation_on_another_grid(spine_case: dict[str, object], tmp_path: Path) -> None:
    import SimpleITK as sitk

    mask = sitk.ReadImage(str(spine_case["vertebrae"]))
    shifted = tmp_path / "shifted.mha"
    mask.SetOrigin([o + 7.0 for o in mask.GetOrigin()])
    sitk.WriteImage(mask, str(shifted))
    _spine_input(tmp_path, spine_case, vertebrae=shifted)
    _run(tmp_path, None, "label map")


def test_unreadable_file(spine_case: dict[str, object], tmp_path: Path) -> None:
    input_dir = _spine_input(tmp_path, spine_case)
    (ct,) = (input_dir / "images" / "ct-image").iterdir()
    ct.write_bytes(b"ObjectType = Image\nNDims = 3\nnot an image at all")
    _run(tmp_path, None, "CT", ct.name)


def test_model_folder_of_the_other_task(
    spine_case: dict[str, object], femur_model: Path, tmp_path: Path
) -> None:
    _spine_input(tmp_path, spine_case)
    # The spine inputs decide nothing here: the femur model makes it a femur run, whose
    # radiograph socket is absent; with --task spine the mismatch itself is named.
    args = ["run", "--input", str(tmp_path / "input"), "--output", str(tmp_path / "output")]
    result = runner.invoke(app, [*args, "--model", str(femur_model), "--task", "spine"])
    one_line_error(result, "holds a femur (AFF/NFF radiograph) model", "give the spine model")
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").rglob("*"))


def test_spine_model_on_a_radiograph(radiograph: Path, spine_model: Path, tmp_path: Path) -> None:
    make_input_folder(tmp_path / "input", "femur", {"radiograph": radiograph})
    args = ["run", "--input", str(tmp_path / "input"), "--output", str(tmp_path / "output")]
    result = runner.invoke(app, [*args, "--model", str(spine_model), "--task", "femur"])
    one_line_error(result, "holds a spine (CT vertebral fractures) model")


def test_entrypoint_process_prints_one_line(spine_case: dict[str, object], tmp_path: Path) -> None:
    """In a process as the platform runs it: exit status 2, one stderr line, no traceback."""
    input_dir = _spine_input(tmp_path, spine_case, ct=None)  # type: ignore[arg-type]
    read_only(input_dir)
    done = entrypoint(input_dir, tmp_path / "output", "--task", "spine")
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: input socket ct-image"), done.stderr
    assert not (tmp_path / "output").exists() or not any((tmp_path / "output").rglob("*"))
