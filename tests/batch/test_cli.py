"""``fracturelab batch`` bad input: one line, exit code 2, no traceback."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.batch import ResultsStore
from fracturelab.cli.batch import app


def _fails(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert lines and expected in lines[0], result.output


def test_folder_without_ct(dicom_mix: Path, tmp_path: Path) -> None:
    mr_only = tmp_path / "mr"
    mr_only.mkdir()
    for file in dicom_mix.glob("mr_*.dcm"):
        (mr_only / file.name).symlink_to(file)
    db = str(tmp_path / "r.db")
    _fails(["run", str(mr_only), "--results", db, "--quiet"], "no eligible CT among 1 scan(s)")
    (record,) = ResultsStore(db).records("skipped")
    assert record.error == "modality MR is not CT (--modality)"
    (tmp_path / "empty").mkdir()
    _fails(["run", str(tmp_path / "empty"), "--results", db], "holds no DICOM series")


def test_database_of_another_version(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    ResultsStore(str(path)).dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE batch_meta SET value='9' WHERE name='schema_version'")
    _fails(["status", "--results", str(path)], "schema version 9")
    _fails(["status", "--results", str(tmp_path / "none.db")], "no such file")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workers", "0"], "--workers 0: must be 1 or more"),
        (["--engine", "spark"], "--engine='spark' is not valid"),
        (["--segmenter-command", "seg {ct}"], "must hold {ct} and {out}"),
        (["--scheduler", "tcp://x:1"], "--scheduler is for --engine dask"),
    ],
)
def test_bad_options(tmp_path: Path, args: list[str], expected: str) -> None:
    _fails(["run", str(tmp_path), "--results", str(tmp_path / "r.db"), *args], expected)


def test_export_bad_grade(tmp_path: Path) -> None:
    _fails(
        ["export", "--results", "x.db", "--out", str(tmp_path / "f.csv"), "--min-grade", "5"],
        "--min-grade 5: must be 0-3",
    )
