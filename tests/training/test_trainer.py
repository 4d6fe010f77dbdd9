from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from fracturelab.errors import InputError
from fracturelab.training import TrainConfig, fit, select_device


class Line(Dataset):
    """y = 3x - 1 with noise: a problem whose solution is known."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.rand(64, 1, generator=generator)
        self.y = 3 * self.x - 1 + 0.01 * torch.randn(64, 1, generator=generator)

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "y": self.y[i]}


def mse(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return nn.functional.mse_loss(model(batch["x"]), batch["y"])


CONFIG = TrainConfig(max_epochs=40, batch_size=8, learning_rate=0.05, patience=100, device="cpu")


def test_learns_a_known_line(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Linear(1, 1)
    result = fit(model, Line(), mse, CONFIG, tmp_path)
    assert model.weight.item() == pytest.approx(3.0, abs=0.1)
    assert model.bias.item() == pytest.approx(-1.0, abs=0.1)
    assert result.epochs_run == 40 and result.best_epoch == 40
    assert (tmp_path / "result.json").is_file() and not (tmp_path / "last.pt").exists()


def test_resume_after_interruption_gives_the_same_weights(tmp_path: Path) -> None:
    torch.manual_seed(1)
    reference = nn.Linear(1, 1)
    fit(reference, Line(), mse, CONFIG, tmp_path / "a")

    calls = {"n": 0}

    def interrupted(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 8 * 17 + 3:  # in the 18th epoch
            raise KeyboardInterrupt
        return mse(model, batch)

    torch.manual_seed(1)
    model = nn.Linear(1, 1)
    with pytest.raises(KeyboardInterrupt):
        fit(model, Line(), interrupted, CONFIG, tmp_path / "b")
    assert (tmp_path / "b" / "last.pt").is_file()
    fresh = nn.Linear(1, 1)  # other initial weights: everything must come from the checkpoint
    result = fit(fresh, Line(), mse, CONFIG, tmp_path / "b")
    assert result.resumed
    assert torch.equal(fresh.weight, reference.weight) and torch.equal(fresh.bias, reference.bias)


def test_finished_run_is_not_repeated(tmp_path: Path) -> None:
    model = nn.Linear(1, 1)
    fit(model, Line(), mse, CONFIG, tmp_path)
    again = nn.Linear(1, 1)

    def fail(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise AssertionError("should not train again")

    result = fit(again, Line(), fail, CONFIG, tmp_path)
    assert result.resumed and torch.equal(again.weight, model.weight)


def test_early_stopping_keeps_the_best_epoch(tmp_path: Path) -> None:
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.9])
    config = TrainConfig(max_epochs=10, batch_size=8, patience=3, device="cpu")
    result = fit(nn.Linear(1, 1), Line(), mse, config, tmp_path, validate=lambda m: next(scores))
    assert result.best_epoch == 2 and result.best_score == 0.5
    assert result.epochs_run == 5  # epochs 3, 4, 5 did not improve


def test_max_steps_caps_training(tmp_path: Path) -> None:
    config = TrainConfig(max_epochs=10, max_steps=3, batch_size=8, device="cpu")
    result = fit(nn.Linear(1, 1), Line(), mse, config, tmp_path)
    assert result.epochs_run == 1 and len(result.history) == 1


@pytest.mark.parametrize(
    ("field", "value"), [("max_epochs", 0), ("batch_size", -1), ("learning_rate", 0.0)]
)
def test_bad_settings(field: str, value: float) -> None:
    with pytest.raises(InputError, match=field):
        TrainConfig(**{field: value})


def test_device_choice() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(InputError, match="not valid"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            select_device("cuda")
