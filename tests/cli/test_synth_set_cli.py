"""``fracturelab synth spine-set``: a phantom dataset in one command; bad options in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fracturelab.cli.synth_set import register
from fracturelab.spine.dataset import read_dataset
from tests.cli.helpers import app_with, one_line_error, unusable_out

runner = CliRunner()


def _app() -> typer.Typer:
    return app_with(register)


def test_spine_set_writes_a_dataset(tmp_path: Path) -> None:
    out = tmp_path / "set"
    result = runner.invoke(
        _app(),
        ["spine-set", "--n", "5", "--out", str(out), "--spacing", "3", "--seed", "1",
         "--graded-share", "0.4", "--unlabelled-share", "0.2", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 5 phantom scans" in result.output
    assert "(2 graded, 2 delineated, 1 unlabelled)" in result.output
    summary = read_dataset(out / "scans.csv").summary()
    assert summary["scans"] == {"graded": 2, "delineated": 2, "unlabelled": 1}
    assert summary["graded_vertebrae"] == 10  # T11-L3 in each graded scan


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--n", "0"], "--n 0 is not valid"),
        (["--spacing", "2,x"], "--spacing '2,x' is not valid"),
        (["--graded-share", "0.9"], "--graded-share 0.9 + --unlabelled-share 0.2 is more than 1"),
        (["--unlabelled-share", "-1"], "--unlabelled-share -1.0 is not valid"),
        (["--levels", "L9"], "level 'L9' is not a vertebra level"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = runner.invoke(_app(), ["spine-set", "--out", str(tmp_path / "o"), *args])
    one_line_error(result, fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("problem", ["file", "below a file", "not writable"])
def test_unusable_out_is_refused_before_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> None:
    _, out = unusable_out(tmp_path, monkeypatch, problem)
    one_line_error(runner.invoke(_app(), ["spine-set", "--out", str(out), "--n", "2"]), "--out")
