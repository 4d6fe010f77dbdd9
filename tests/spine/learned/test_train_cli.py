"""``fracturelab spine train`` end to end on a phantom dataset, and its one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fracturelab.cli.spine_model import register
from tests.cli.helpers import app_with, one_line_error

runner = CliRunner()
FAST = ["--folds", "2", "--size", "tiny", "--epochs", "1", "--batch-size", "8"]
FAST += ["--patch-mm", "48", "--patch-spacing", "4", "--device", "cpu", "--bootstrap", "100", "-q"]


def _app() -> typer.Typer:
    return app_with(register)


def test_train_writes_predictions_and_model(phantom_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        _app(), ["train", "--dataset", str(phantom_set), "--out", str(out), *FAST]
    )
    assert result.exit_code == 0, result.output
    assert "Model for `spine analyze --model`" in result.output
    with (out / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (phantom_set.parent / "grades.csv").open(newline="") as handle:
        graded = list(csv.DictReader(handle))
    assert len(rows) == len(graded)
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(row["patient_id"], set()).add(row["split"] + row["fold"])
    assert all(len(s) == 1 for s in sides.values())
    model = json.loads((out / "models/best/spine_model.json").read_text())
    assert model["patch_shape"] == [12, 12, 12]
    assert model["channels"] == ["ct", "vertebra", "neighbours"]
    assert (out / "cache/index.csv").is_file()
    for name in ("report.md", "report.html", "metrics.json", "metrics.csv"):
        assert (out / name).is_file(), name


def test_no_fracture_is_one_line(phantom_set: Path, tmp_path: Path) -> None:
    grades = tmp_path / "grades.csv"
    text = (phantom_set.parent / "grades.csv").read_text()
    with (phantom_set.parent / "grades.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with grades.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "genant_grade": "0", "morphology": "normal"} for r in rows)
    assert text  # the original stays untouched
    result = runner.invoke(
        _app(),
        ["train", "--dataset", str(phantom_set), "--grades", str(grades), "--out",
         str(tmp_path / "run"), *FAST],
    )  # fmt: skip
    one_line_error(result, "no fracture")


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [("--folds", "1", "--folds"), ("--backbone", "cnm", "cnn"), ("--size", "huge", "--size")],
)
def test_bad_options_are_one_line(
    phantom_set: Path, tmp_path: Path, option: str, value: str, fragment: str
) -> None:
    arguments = ["train", "--dataset", str(phantom_set), "--out", str(tmp_path / "run"), *FAST]
    if option in arguments:
        arguments[arguments.index(option) + 1] = value
    else:
        arguments += [option, value]
    one_line_error(runner.invoke(_app(), arguments), fragment)


def test_missing_dataset_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        _app(), ["train", "--dataset", str(tmp_path / "none.csv"), "--out", str(tmp_path / "r")]
    )
    one_line_error(result, "none.csv")
