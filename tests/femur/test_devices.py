"""``femur experiment --devices N``: a two-process run of the smallest setting; bad values."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.main import app
from tests.cli.helpers import one_line_error

runner = CliRunner()
FAST = ["--folds", "2", "--backbones", "cnn", "--model-size", "tiny", "--epochs", "1"]
FAST += ["--localizer-epochs", "1", "--max-steps", "2", "--batch-size", "8"]
FAST += ["--localizer-size", "64", "--bootstrap", "100", "--device", "cpu"]


def _experiment(manifest: Path, out: Path, devices: str):
    return runner.invoke(
        app, ["femur", "experiment", "--manifest", str(manifest), "--out", str(out), *FAST,
              "--devices", devices],
    )  # fmt: skip


def test_two_processes_write_the_run_once(femur_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _experiment(femur_dataset, out, "2")
    assert result.exit_code == 0, result.output
    assert f"Model for `femur predict`: {out / 'models' / 'best'}" in result.output
    for name in ("report.md", "report.html", "metrics.json", "probabilities.csv", "splits.csv"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "best", "downsample-cnn", "patch-cnn",
    ]  # fmt: skip
    for model in ("best", "downsample-cnn", "patch-cnn"):
        assert (out / "models" / model / "model.json").is_file()
    # every network finished (rank 0 wrote result.json) and no temporary file is left
    finished = sorted(p.parent.relative_to(out / "checkpoints").as_posix()
                      for p in (out / "checkpoints").rglob("result.json"))  # fmt: skip
    assert len(finished) == 12, finished  # 3 localizers, 3 refiners, 2 x 3 classifiers
    assert [p for p in out.rglob("*") if ".tmp" in p.name] == []
    assert not list((out / "checkpoints").rglob("last.pt"))


@pytest.mark.parametrize("value", ["0", "-2"])
def test_bad_devices_is_one_line(femur_dataset: Path, tmp_path: Path, value: str) -> None:
    out = tmp_path / "run"
    one_line_error(_experiment(femur_dataset, out, value), "--devices")
    assert not (out / "splits.csv").exists()  # refused before any work
