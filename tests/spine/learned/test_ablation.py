"""The ablation: one test set for every setting, nested fractions, honest verdicts, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fracturelab.cli.spine_semi import register
from fracturelab.spine.learned.ablation import AblationConfig, development_order, run_ablation
from fracturelab.spine.learned.ablation_report import (
    ABLATION_COLUMNS,
    verdict,
    write_ablation_report,
)
from fracturelab.spine.learned.config import SpineTrainingConfig
from fracturelab.spine.learned.data import CacheIndex
from fracturelab.spine.learned.network import build_spine_network
from fracturelab.spine.learned.pretrain_model import (
    ENCODER_FILE,
    PRETRAIN_FILE,
    pretrain_description,
)
from fracturelab.training.config import TrainConfig
from tests.cli.helpers import app_with, one_line_error
from tests.spine.learned.synthetic_cache import write_cache
from tests.spine.learned.test_pseudo_labels import _add_delineated


def _fake_pretraining(folder: Path) -> Path:
    """A pretraining run folder holding a (seeded, random) tiny CNN encoder."""
    folder.mkdir(parents=True)
    torch.manual_seed(11)
    network = build_spine_network("cnn", (16, 16, 16), 3, "tiny")
    torch.save(network.features.state_dict(), folder / ENCODER_FILE)
    described = pretrain_description("cnn", "tiny", 3, (16, 16, 16))
    (folder / PRETRAIN_FILE).write_text(json.dumps(described), encoding="utf-8")
    return folder


def test_ablation_runs_every_variant_on_one_test_set(tmp_path: Path) -> None:
    cache = write_cache(tmp_path / "cache", n_patients=12)
    _add_delineated(cache)
    model = SpineTrainingConfig(
        test_fraction=0.34, model_size="tiny", augment=False,
        training=TrainConfig(max_epochs=1, max_steps=1, batch_size=8, device="cpu"),
    )  # fmt: skip
    config = AblationConfig((0.5, 1.0), model, n_bootstrap=50)
    result = run_ablation(
        cache, tmp_path / "out", config, pretrained=_fake_pretraining(tmp_path / "pre"),
        show_progress=False,
    )  # fmt: skip
    assert [(r["variant"], r["fraction"]) for r in result.rows] == [
        (v, f) for f in (0.5, 1.0) for v in ("supervised", "pseudo", "pretrained", "both")
    ]
    records = CacheIndex.read(cache).records()
    assert result.test["vertebrae"] == 6 * result.test["patients"]  # 6 levels per scan
    development = len({r.patient_id for r in records}) - result.test["patients"]
    by = {(r["variant"], r["fraction"]): r for r in result.rows}
    assert by[("supervised", 1.0)]["graded_patients"] == development
    assert by[("supervised", 0.5)]["graded_patients"] == -(-development // 2)
    for row in result.rows:
        assert (row["pseudo_vertebrae"] > 0) == (row["variant"] in ("pseudo", "both"))
        assert 0 <= row["auc_ge1"] <= 1 and row["auc_ge1_low"] <= row["auc_ge1_high"]
        assert (row["delong_p_ge1"] is None) == (row["variant"] == "supervised")
    files = write_ablation_report(result, tmp_path / "out")
    with files["csv"].open(newline="") as handle:
        assert tuple(csv.DictReader(handle).fieldnames or ()) == ABLATION_COLUMNS
    text = files["markdown"].read_text(encoding="utf-8")
    assert "learning_curve.png" in text and "supervised-only" in text
    assert files["figure"].stat().st_size > 1000


def test_development_order_alternates_and_nests() -> None:
    cache_records = [
        type("R", (), {"patient_id": p, "genant_grade": g})()
        for p, g in [("a", 1), ("b", 0), ("c", 2), ("d", 0), ("e", 0)]
    ]
    order = development_order(cache_records, ["a", "b", "c", "d", "e"], seed=0)  # type: ignore[arg-type]
    assert sorted(order) == ["a", "b", "c", "d", "e"]
    assert {order[0], order[2]} <= {"a", "c"} and {order[1], order[3]} <= {"b", "d", "e"}


@pytest.mark.parametrize(
    ("p", "difference", "expected"),
    [(0.01, 0.1, "helps"), (0.01, -0.1, "hurts"), (0.2, 0.15, "no significant difference"),
     (None, None, "not measurable")],
)  # fmt: skip
def test_verdict_never_claims_a_benefit_without_significance(
    p: float | None, difference: float | None, expected: str
) -> None:
    assert verdict({"delong_p_ge1": p, "difference_ge1": difference}) == expected


def test_cli_errors_are_one_line(phantom_set: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    app = app_with(register)
    args = ["ablation", "--dataset", str(phantom_set), "--out", str(tmp_path / "o"), "-q"]
    one_line_error(runner.invoke(app, [*args, "--fractions", "0.1,x"]), "--fractions")
    one_line_error(runner.invoke(app, [*args, "--fractions", "0,1.5"]), "--fractions")
    result = runner.invoke(app, [*args, "--pretrained", str(tmp_path), "--size", "tiny"])
    one_line_error(result, "--pretrained", "not a finished pretraining run")
    pre = _fake_pretraining(tmp_path / "pre")
    result = runner.invoke(app, [*args, "--pretrained", str(pre), "--size", "small"])
    one_line_error(result, "--size 'tiny'")
    assert not (tmp_path / "o" / "ablation.csv").exists()


def test_train_init_and_teacher_refused_in_one_line(phantom_set: Path, tmp_path: Path) -> None:
    from fracturelab.cli.spine_model import register as register_train

    runner = CliRunner()
    app = app_with(register_train)
    args = ["train", "--dataset", str(phantom_set), "--out", str(tmp_path / "o"), "-q"]
    pre = _fake_pretraining(tmp_path / "pre")
    result = runner.invoke(app, [*args, "--init", str(pre), "--backbone", "vit", "--size", "tiny"])
    one_line_error(result, "--init", "backbone 'cnn'")
    one_line_error(runner.invoke(app, [*args, "--teacher", str(pre)]), "--pseudo-labels")
    result = runner.invoke(app, [*args, "--pseudo-labels", "--teacher", str(pre)])
    one_line_error(result, "--teacher", "spine_model.json")
    result = runner.invoke(app, [*args, "--pseudo-labels", "--pseudo-weight", "0"])
    one_line_error(result, "--pseudo-weight")
    assert not (tmp_path / "o" / "cache").exists()


def test_pretrain_cli_errors_are_one_line(phantom_set: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    app = app_with(register)
    args = ["pretrain", "--dataset", str(phantom_set), "--out", str(tmp_path / "p"), "-q"]
    one_line_error(runner.invoke(app, [*args, "--patch-mm", "-4"]), "--patch-mm")
    one_line_error(runner.invoke(app, [*args, "--size", "huge"]), "--size")
    one_line_error(runner.invoke(app, [*args, "--jobs", "0"]), "--jobs")
    assert not (tmp_path / "p" / "config.json").exists()
