"""``fracturelab spine dataset check``: the table, every problem one line, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fracturelab.cli.spine_dataset import register
from fracturelab.synth.spine_set import make_spine_set
from tests.cli.helpers import app_with, one_line_error

runner = CliRunner()


def _app() -> typer.Typer:
    return app_with(register)


@pytest.fixture(scope="module")
def phantom_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli-set")
    return make_spine_set(out, 6, seed=2, spacing_mm=(3, 3, 3), fracture_share=1.0, progress=False)


def test_clean_dataset_prints_tiers_and_grades(phantom_set: Path) -> None:
    result = runner.invoke(_app(), ["dataset", "check", str(phantom_set), "--train", "-q"])
    assert result.exit_code == 0, result.output
    for text in ("graded", "delineated", "unlabelled", "Genant grade", "fractured", "wedge"):
        assert text in result.output
    assert "OK: no problem found in the tables and label maps." in result.output


def test_no_masks_skips_the_label_maps(phantom_set: Path) -> None:
    result = runner.invoke(_app(), ["dataset", "check", str(phantom_set), "--no-masks"])
    assert result.exit_code == 0, result.output
    assert "OK: no problem found in the tables." in result.output


def test_every_problem_on_its_own_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "ct.nii.gz").write_bytes(b"")
    scans = tmp_path / "scans.csv"
    scans.write_text("case_id,patient_id,ct,vertebrae\nA,P1,ct.nii.gz,\nA,P2,ct.nii.gz,\n")
    (tmp_path / "grades.csv").write_text("case_id,level,genant_grade\nA,L1,7\nA,L2,1\n")
    result = runner.invoke(_app(), ["dataset", "check", str(scans)])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.output
    for fragment in ("two patients", "outside 0-3", "no vertebrae label map"):
        assert sum(fragment in error for error in errors) == 1, (fragment, errors)
    assert "3 problems; fix them and run again" in result.output
    assert "Traceback" not in result.output


def test_level_not_in_mask_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    grades = tmp_path / "grades.csv"
    first = next(line for line in (phantom_set.parent / "grades.csv").read_text().splitlines()[1:])
    case = first.split(",")[0]
    grades.write_text(f"case_id,level,genant_grade\n{case},T4,1\n{case},L1,0\n")
    result = runner.invoke(
        _app(), ["dataset", "check", str(phantom_set), "--grades", str(grades), "-q"]
    )
    one_line_error(result, "line 2: level T4 (grade 1) is not in the label map")


def test_no_fracture_with_train_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    grades = tmp_path / "grades.csv"
    case = (phantom_set.parent / "grades.csv").read_text().splitlines()[1].split(",")[0]
    grades.write_text(f"case_id,level,genant_grade\n{case},L1,0\n")
    args = ["dataset", "check", str(phantom_set), "--grades", str(grades), "--no-masks"]
    assert runner.invoke(_app(), args).exit_code == 0
    one_line_error(runner.invoke(_app(), [*args, "--train"]), "no fracture among its 1 graded")


def test_missing_dataset_and_bad_jobs(tmp_path: Path, phantom_set: Path) -> None:
    one_line_error(
        runner.invoke(_app(), ["dataset", "check", str(tmp_path / "x.csv")]), "no such file"
    )
    one_line_error(
        runner.invoke(_app(), ["dataset", "check", str(phantom_set), "--jobs", "0"]),
        "--jobs 0 is not valid",
    )


def test_export_without_patient_id_is_one_line(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("case,ct,vertebrae,level,genant_grade,morphology,not_assessable\n")
    one_line_error(
        runner.invoke(_app(), ["dataset", "check", str(export)]),
        "column 'patient_id' is missing; add a patient_id column",
    )
