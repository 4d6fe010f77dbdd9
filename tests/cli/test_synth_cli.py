"""Tests of ``fracturelab synth spine``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.synth import app
from fracturelab.imaging import read_volume
from tests.cli.helpers import unusable_out

runner = CliRunner(env={"COLUMNS": "400"})  # no wrapping of long temporary paths

#: Parameter names of the Python functions behind the commands: never in a CLI message.
PYTHON_NAMES = re.compile(
    r"\b(spacing_mm|fov_mm|label_convention|noise_hu|n_images|aff_fraction|size_range_px|"
    r"spacing_range_mm|out_dir|loss_pct)\b|^error: (seed|orientation|curvature|levels) "
)


def test_spine_writes_the_phantom_and_summarises_fractures(tmp_path: Path) -> None:
    out = tmp_path / "phantom"
    result = runner.invoke(
        app,
        [
            "spine", "--out", str(out), "--levels", "T12-L2", "--spacing", "3",
            "--fractures", "L1:2:wedge", "--orientation", "RAS", "--noise", "0",
            "--labels", "totalseg_v2", "--seed", "3", "--curvature", "0.5",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["ct.nii.gz", "truth.json", "vertebrae.nii.gz"]
    truth = json.loads((out / "truth.json").read_text())
    l1 = next(e for e in truth["vertebrae"] if e["level"] == "L1")
    assert (l1["label"], l1["kind"], l1["genant_grade"]) == (31, "wedge", 2)
    assert truth["parameters"]["seed"] == 3 and truth["parameters"]["curvature"] == 0.5
    ct = read_volume(out / "ct.nii.gz")
    assert ct.orientation == "RAS"
    assert list(ct.spacing_mm) == pytest.approx([3.0, 3.0, 3.0])
    assert "L1 wedge" in result.stdout and "Genant grade 2" in result.stdout
    assert "T12-L2" in result.stdout


def test_anisotropic_spacing_and_field_of_view(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["spine", "--out", str(tmp_path), "--levels", "L1-L3", "--spacing", "2,2.5,3",
         "--fov", "120,100,60", "--fractures", "L2:15%:wedge"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ct = read_volume(tmp_path / "ct.nii.gz")
    assert ct.shape == (60, 40, 20)
    assert "Fractured: none" in result.stdout
    assert "Deformed, below 20 %: L2 wedge, height loss 15 %, Genant grade 0" in result.stdout
    assert "Cut by the field of view" in result.stdout


def test_mask_error_spoils_the_label_map_and_is_recorded(tmp_path: Path) -> None:
    common = ["--levels", "L1-L2", "--spacing", "3", "--seed", "2"]
    assert runner.invoke(app, ["spine", "--out", str(tmp_path / "a"), *common]).exit_code == 0
    result = runner.invoke(
        app, ["spine", "--out", str(tmp_path / "b"), *common, "--mask-error", "erode"]
    )
    assert result.exit_code == 0, result.output
    assert "--mask-error erode" in result.stdout
    truth = json.loads((tmp_path / "b" / "truth.json").read_text())
    assert truth["parameters"]["mask_error"] == "erode"
    clean, eroded = (read_volume(tmp_path / d / "vertebrae.nii.gz").array for d in "ab")
    assert 0 < (eroded > 0).sum() < (clean > 0).sum()
    ct = [read_volume(tmp_path / d / "ct.nii.gz").array for d in "ab"]
    assert (ct[0] == ct[1]).all()


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["spine", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--fractures", "--levels", "--spacing", "--orientation", "--labels",
                   "--mask-error"):  # fmt: skip
        assert option in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--fractures", "T12:5:wedge"], "error: fracture 'T12:5:wedge': grade 5 is not 0-3"),
        (["--fractures", "T12:2:wedg"], "did you mean 'wedge'"),
        (["--fractures", "S1:2:wedge", "--levels", "L5-S1"], "'S1' cannot be fractured"),
        (["--fractures", "T4:2:wedge"], "T4 is not among the levels drawn"),
        (["--levels", "T8-Q1"], "error: level 'Q1' is not a vertebra level"),
        (["--spacing", "1,x,1"], "error: --spacing '1,x,1' is not valid"),
        (["--spacing", "1,1"], "error: --spacing '1,1' is not valid"),
        (["--spacing", "-1"], "error: --spacing '-1' is not valid"),
        (["--fov", "100,100"], "error: --fov '100,100' is not valid"),
        (["--orientation", "XYZ"], "error: --orientation 'XYZ' is not valid"),
        (["--labels", "totalseg"], "error: --labels 'totalseg' is not valid"),
        (["--curvature", "3"], "error: --curvature 3.0 is not valid"),
        (["--noise", "-5"], "error: --noise -5.0 is not valid"),
        (["--seed", "-1"], "error: --seed -1 is not valid"),
        (["--spacing", "0.05", "--levels", "C1-S1"], "use a coarser --spacing, fewer levels"),
        (
            ["--mask-error", "blur"],
            "error: --mask-error 'blur' is not valid; use one of none, dilate, erode, ragged, "
            "missing-process",
        ),
    ],
)
def test_bad_input_is_one_error_line_with_exit_code_2(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["spine", "--out", str(out), "--spacing", "3", *args])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert not PYTHON_NAMES.search(result.stderr), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_importing_the_command_stays_light() -> None:
    code = (
        "import sys, fracturelab.cli.synth; "
        "print(sorted(m for m in ('numpy', 'scipy', 'SimpleITK') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- femur
def test_femur_writes_images_manifest_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "femur"
    result = runner.invoke(
        app,
        ["femur", "--out", str(out), "--n", "12", "--seed", "4", "--aff-fraction", "0.5",
         "--min-size", "48", "--max-size", "96", "--min-spacing", "0.15", "--max-spacing", "0.2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["images", "manifest.csv", "truth.json"]
    lines = (out / "manifest.csv").read_text().splitlines()
    assert lines[0] == "image,patient_id,label,center_x,center_y,pixel_spacing_mm"
    assert len(lines) == 13 and len(list((out / "images").glob("*.png"))) == 12
    patients = {line.split(",")[1] for line in lines[1:]}
    aff = {line.split(",")[1] for line in lines[1:] if ",AFF," in line}
    assert len(aff) == round(0.5 * len(patients))
    assert f"Wrote 12 femur radiographs of {len(patients)} patients" in result.stdout
    assert f"AFF: {sum(',AFF,' in line for line in lines)} images, {len(aff)} patients" in (
        result.stdout
    )
    assert "manifest.csv" in result.stdout and "truth.json" in result.stdout
    truth = json.loads((out / "truth.json").read_text())
    assert truth["parameters"]["spacing_range_mm"] == [0.15, 0.2]


def test_femur_help_lists_the_options() -> None:
    result = runner.invoke(app, ["femur", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--n", "--seed", "--aff-fraction", "--min-size", "--max-size",
                   "--min-spacing", "--max-spacing"):  # fmt: skip
        assert option in result.stdout
    assert "femur" in runner.invoke(app, ["--help"]).stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--n", "0"], "error: --n 0 is not valid; give an integer >= 1"),
        (["--aff-fraction", "1.5"], "error: --aff-fraction 1.5 is not valid"),
        (["--min-size", "500", "--max-size", "100"], "--min-size/--max-size (500, 100) is not"),
        (["--min-spacing", "0"], "error: --min-spacing/--max-spacing (0.0, 0.2) is not valid"),
        (["--min-spacing", "0.3"], "error: --min-spacing/--max-spacing (0.3, 0.2) is not valid"),
        (["--seed", "-1"], "error: --seed -1 is not valid"),
    ],
)
def test_femur_bad_input_is_one_error_line(tmp_path: Path, args: list[str], expected: str) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["femur", "--out", str(out), "--n", "2", *args])
    assert result.exit_code == 2
    assert expected in result.stderr
    assert not PYTHON_NAMES.search(result.stderr), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists()


def test_femur_out_that_is_a_file_is_one_error_line(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("x")
    result = runner.invoke(app, ["femur", "--out", str(target), "--n", "1"])
    assert result.exit_code == 2
    assert "is a file, not a folder" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", [["spine", "--spacing", "3"], ["femur", "--n", "1"]])
@pytest.mark.parametrize("problem", ["file", "below a file", "not writable"])
def test_unusable_out_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], problem: str
) -> None:
    blocker, out = unusable_out(tmp_path, monkeypatch, problem)
    result = runner.invoke(app, [command[0], "--out", str(out), *command[1:]])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: --out {out}: ") and result.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert blocker.read_text() == "x"


def test_spine_bone_hu_and_no_fracture_signs_reach_the_phantom(tmp_path):
    out = tmp_path / "p"
    args = ["spine", "--out", str(out), "--levels", "L1-L3", "--spacing", "2",
            "--fractures", "L2:2:wedge", "--bone-hu", "150", "--no-fracture-signs"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text())
    assert truth["parameters"]["bone_hu"] == 150.0
    assert truth["parameters"]["fracture_signs"] is False
    assert all(v["cancellous_hu"] == 150.0 for v in truth["vertebrae"])


def test_spine_bone_hu_out_of_range_names_the_option(tmp_path):
    result = CliRunner().invoke(app, ["spine", "--out", str(tmp_path / "p"), "--bone-hu", "900"])
    assert result.exit_code == 2
    assert "--bone-hu 900" in result.output and "None" not in result.output
