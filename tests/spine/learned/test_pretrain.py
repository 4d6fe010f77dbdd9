"""Self-supervised pretraining: crops from the CT alone, lazy reading, resume, --init."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import fracturelab.spine.learned.pretrain_model as pretrain_model
from fracturelab.errors import InputError
from fracturelab.spine.dataset import read_dataset
from fracturelab.spine.learned.network import build_spine_network
from fracturelab.spine.learned.pretrain import PretrainConfig, crop_sources, pretrain_spine
from fracturelab.spine.learned.pretrain_data import CropDataset, CropSource
from fracturelab.spine.learned.pretrain_model import load_encoder
from fracturelab.synth.spine_set import make_spine_set
from fracturelab.training.config import TrainConfig

CONFIG = PretrainConfig(
    model_size="tiny",
    patch_mm=48.0,
    patch_spacing_mm=3.0,
    training=TrainConfig(max_epochs=2, batch_size=4, device="cpu"),
)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[CropSource]:
    """6 phantom scans (T12-L2, 3 mm): 3 unlabelled, 2 delineated, 1 graded."""
    out = tmp_path_factory.mktemp("pretrain-set")
    csv = make_spine_set(
        out, 6, seed=3, spacing_mm=(3, 3, 3), graded_share=0.2, unlabelled_share=0.5,
        scans_per_patient=(1, 1), levels="T12-L2", progress=False,
    )  # fmt: skip
    return crop_sources(read_dataset(csv))


@pytest.fixture(scope="module")
def run(sources: list[CropSource], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pretrain-run")
    pretrain_spine(sources, folder, CONFIG, show_progress=False)
    return folder


def test_crops_follow_the_spine_of_unlabelled_scans(run: Path, sources: list[CropSource]) -> None:
    described = json.loads((run / "pretrain.json").read_text(encoding="utf-8"))
    assert described["shape"] == [16, 16, 16] and described["crops"] >= 6
    assert described["crops_per_second"] > 0
    rows = (run / "crops" / "crops.csv").read_text(encoding="utf-8").splitlines()[1:]
    unlabelled = {s.case_id for s in sources if s.tier == "unlabelled"}
    assert unlabelled and unlabelled <= {r.split(",")[0] for r in rows}
    dataset = CropDataset(run / "crops" / "crops.csv")
    crop = dataset.read(0)
    assert crop.shape == (3, 16, 16, 16)
    centre = crop[0, 6:10, 6:10, 6:10].mean()
    assert centre > crop[0, :, :2, :2].mean()  # bone at the centre, not at a corner
    assert not crop[1:].any()  # no masks without a label


def test_reads_lazily_within_a_memory_budget(run: Path) -> None:
    dataset = CropDataset(run / "crops" / "crops.csv")
    total = sum(dataset.read(i).nbytes for i in range(len(dataset)))
    budget = total // 3  # smaller than the data set
    loader = torch.utils.data.DataLoader(dataset, batch_size=2)
    tracemalloc.start()
    seen = 0
    for batch in loader:
        seen += batch["target"].shape[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seen == len(dataset)
    assert peak < budget, f"peak {peak} bytes for a data set of {total}"
    assert not any(isinstance(v, np.ndarray) for v in vars(dataset).values())


def test_resume_after_interruption_gives_the_same_encoder(
    run: Path, sources: list[CropSource], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = pretrain_model.PretrainLoss.__call__

    def interrupted(self: Any, model: Any, batch: Any) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 6:  # inside epoch 2
            raise KeyboardInterrupt
        return original(self, model, batch)

    import fracturelab.spine.learned.pretrain as pretrain

    monkeypatch.setattr(pretrain.PretrainLoss, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pretrain_spine(sources, tmp_path, CONFIG, show_progress=False)
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    monkeypatch.setattr(pretrain.PretrainLoss, "__call__", original)
    resumed = pretrain_spine(sources, tmp_path, CONFIG, show_progress=False)
    assert resumed["resumed"]
    a = torch.load(run / "encoder.pt", weights_only=True)
    b = torch.load(tmp_path / "encoder.pt", weights_only=True)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_init_loads_the_encoder_and_refuses_another_architecture(run: Path) -> None:
    torch.manual_seed(0)
    patch = torch.rand(2, 3, 16, 16, 16)
    random = build_spine_network("cnn", (16, 16, 16), 3, "tiny").eval()
    loaded = build_spine_network("cnn", (16, 16, 16), 3, "tiny")
    loaded.load_state_dict(random.state_dict())
    load_encoder(loaded, run, "cnn", "tiny")
    loaded.eval()
    with torch.no_grad():
        before, after = random.features(patch), loaded.features(patch)
    assert not torch.allclose(before, after)
    saved = torch.load(run / "encoder.pt", weights_only=True)
    assert all(torch.equal(v, loaded.features.state_dict()[k]) for k, v in saved.items())
    with pytest.raises(InputError, match=r"model_size 'tiny'.*'small'"):
        load_encoder(build_spine_network("cnn", (16, 16, 16), 3, "small"), run, "cnn", "small")
    with pytest.raises(InputError, match="does not fit"):
        load_encoder(build_spine_network("cnn", (16, 16, 16), 2, "tiny"), run, "cnn", "tiny")
    with pytest.raises(InputError, match="not a finished pretraining run"):
        load_encoder(loaded, run / "crops", "cnn", "tiny")


def test_other_settings_refused(run: Path, sources: list[CropSource]) -> None:
    other = PretrainConfig(model_size="tiny", patch_mm=48.0, patch_spacing_mm=3.0, seed=4)
    with pytest.raises(InputError, match="other settings"):
        pretrain_spine(sources, run, other, show_progress=False)
