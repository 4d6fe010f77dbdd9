"""``spine train --devices N``: two gloo processes train the one-process model; bad values.

Where the arithmetic is the same in one and two processes (a ViT, which has no batch norm,
without the morphology term, whose class-weighted mean over a process's share is not its share
of the batch's weighted mean, and without augmentation, whose draws follow the order in which
a process sees its items) the predictions agree to the file's rounding; the CLI's default
network (a CNN with batch norm, per-process statistics) agrees within a looser tolerance.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from fracturelab.cli.spine_model import register
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.experiment import train_spine
from fracturelab.training.config import TrainConfig
from tests.cli.helpers import app_with, one_line_error
from tests.spine.learned.synthetic_cache import write_cache

runner = CliRunner()
FAST = ["--folds", "2", "--size", "tiny", "--epochs", "1", "--batch-size", "4", "--no-augment"]
FAST += ["--patch-mm", "48", "--patch-spacing", "4", "--device", "cpu", "--bootstrap", "50", "-q"]
#: Largest difference of a probability in predictions.csv between 1 and 2 processes when the
#: arithmetic is the same: the weights differ by float32 rounding only (summation order), and
#: the file rounds to 6 decimals (measured: 1e-6).
EXACT = 2e-5
#: The same for the CLI's CNN with the full loss, one epoch: batch norm normalises each
#: process's share of a batch by its own statistics, and rank 0's running statistics are kept
#: (measured: 0.008).
CNN_TOLERANCE = 0.05
PROBABILITIES = ("fracture_probability", "p_grade_ge2", "p0", "p1", "p2", "p3")


def _app() -> typer.Typer:
    return app_with(register)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_processes_give_the_one_process_predictions(phantom_set: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # cut once, shared by both runs
    runs = {}
    for devices in (1, 2):
        out = tmp_path / f"run{devices}"
        result = runner.invoke(
            _app(),
            ["train", "--dataset", str(phantom_set), "--out", str(out), "--cache", str(cache),
             "--devices", str(devices), *FAST],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "Model for `spine analyze --model`" in result.output
        runs[devices] = out
    worst = _worst(*(_rows(runs[d] / "predictions.csv") for d in (1, 2)))
    assert worst <= CNN_TOLERANCE
    assert (runs[1] / "splits.csv").read_text() == (runs[2] / "splits.csv").read_text()
    # written once, by rank 0: one model folder with one weight file per fold, no leftovers
    model = runs[2] / "models" / "best"
    assert sorted(p.name for p in model.iterdir()) == sorted(
        p.name for p in (runs[1] / "models" / "best").iterdir()
    )
    assert sorted(p.name for p in (runs[2] / "models").iterdir()) == ["best"]
    leftovers = [p for p in runs[2].rglob("*") if ".tmp" in p.name or p.name.startswith(".")]
    assert leftovers == []
    for name in ("report.md", "report.html", "metrics.json", "config.json"):
        assert (runs[2] / name).is_file(), name


def _worst(one: list[dict[str, str]], two: list[dict[str, str]]) -> float:
    assert [(r["case_id"], r["level"], r["split"], r["fold"]) for r in one] == [
        (r["case_id"], r["level"], r["split"], r["fold"]) for r in two
    ]
    return max(
        abs(float(a[c]) - float(b[c])) for a, b in zip(one, two, strict=True) for c in PROBABILITIES
    )


def test_two_processes_train_the_one_process_model(tmp_path: Path) -> None:
    cache = write_cache(tmp_path / "cache", n_patients=8)
    config = SpineTrainingConfig(
        n_folds=2,
        backbone="vit",
        model_size="tiny",
        augment=False,
        morphology_weight=0.0,
        training=TrainConfig(max_epochs=2, batch_size=8, device="cpu"),
    )
    runs = [
        train_spine(cache, tmp_path / f"run{d}", config, show_progress=False, report=False,
                    devices=d)
        for d in (1, 2)
    ]  # fmt: skip
    assert _worst(*(_rows(run.predictions) for run in runs)) <= EXACT
    assert runs[0].metrics["threshold"] == pytest.approx(runs[1].metrics["threshold"], abs=1e-4)
    assert [f["best_epoch"] for f in runs[0].folds] == [f["best_epoch"] for f in runs[1].folds]
    assert runs[1].splits == runs[0].splits
    assert runs[1].model_dir == tmp_path / "run2" / "models" / "best"


@pytest.mark.parametrize("value", ["0", "-1"])
def test_bad_devices_is_one_line(phantom_set: Path, tmp_path: Path, value: str) -> None:
    out = tmp_path / "run"
    arguments = ["train", "--dataset", str(phantom_set), "--out", str(out), *FAST]
    one_line_error(runner.invoke(_app(), [*arguments, "--devices", value]), "--devices")
    assert not (out / "cache").exists()  # refused before any work
