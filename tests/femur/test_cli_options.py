"""Bad values of the localisation, repetition and reading options: one line, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fracturelab.cli.main import app
from tests.cli.helpers import one_line_error

runner = CliRunner()


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--localizer", "triple", "--localizer"),
        ("--repeats", "0", "--repeats"),
        ("--refine-window", "0", "--refine-window"),
        ("--refine-size", "20", "--refine-size"),
        ("--heatmap-width", "0", "--heatmap-width"),
        ("--workers", "0", "--workers"),
    ],
)
def test_bad_option_is_one_line_and_writes_nothing(
    femur_dataset: Path, tmp_path: Path, option: str, value: str, fragment: str
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["femur", "experiment", "--manifest", str(femur_dataset), "--out", str(out),
         "--device", "cpu", option, value],
    )  # fmt: skip
    one_line_error(result, fragment)
    assert not (out / "splits.csv").exists() and not (out / "config.json").exists()


def test_pretrained_torchvision_file_loads_whole_into_the_experiment_classifier(
    tmp_path: Path,
) -> None:
    """Every tensor of a torchvision-layout file ends up in the experiment's CNN classifier."""
    import torch

    from fracturelab.femur.localizers import TrainingRunner
    from fracturelab.femur.networks import build_classifier
    from tests.femur.builders import TINY
    from tests.training.test_pretrained import _randomised, torchvision_layout

    source = _randomised(build_classifier("cnn", 224, "tiny"), seed=3)
    path = tmp_path / "resnet.pth"
    torch.save(torchvision_layout(source), path)
    config = type(TINY)(**{**TINY.__dict__, "pretrained": {"cnn": str(path)}})
    runner = TrainingRunner.__new__(TrainingRunner)
    runner.c = config
    loaded = runner.pretrained(build_classifier("cnn", 224, "tiny"), "cnn")
    mine, theirs = loaded.state_dict(), source.state_dict()
    for name, tensor in theirs.items():
        if not name.startswith("head."):  # the head keeps its own initialisation
            assert torch.allclose(mine[name].float(), tensor.float(), atol=1e-6), name


def test_mismatched_or_ambiguous_pretrained_is_refused_before_any_work(
    femur_dataset: Path, tmp_path: Path
) -> None:
    import torch

    from fracturelab.femur.networks import build_classifier
    from tests.training.test_pretrained import torchvision_layout

    small = tmp_path / "small.pth"  # a "small" ResNet does not fit the "tiny" classifier
    torch.save(torchvision_layout(build_classifier("cnn", 224, "small")), small)
    out = tmp_path / "run"
    base = ["femur", "experiment", "--manifest", str(femur_dataset), "--out", str(out),
            "--device", "cpu", "--model-size", "tiny"]  # fmt: skip
    result = runner.invoke(app, [*base, "--backbones", "cnn", "--pretrained", str(small)])
    one_line_error(result, "--pretrained", "small.pth")
    result = runner.invoke(app, [*base, "--pretrained", str(small)])  # cnn,vit: which?
    one_line_error(result, "--pretrained", "cnn=FILE or vit=FILE")
    result = runner.invoke(app, [*base, "--pretrained", f"vit={tmp_path / 'none.pth'}"])
    one_line_error(result, "--pretrained", "no such file")
    assert not (out / "splits.csv").exists() and not (out / "config.json").exists()
