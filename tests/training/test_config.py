"""The training settings load without PyTorch; the package's names load on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import fracturelab.training as training
from fracturelab.training import config, device, distributed, trainer


def _loaded_after(statement: str, modules: list[str]) -> list[str]:
    """Run ``statement`` in a fresh interpreter; return which of ``modules`` it loaded."""
    code = f"import sys; {statement}; print(*[m for m in {modules!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.split()


def test_the_settings_and_the_package_load_no_torch() -> None:
    statement = "import fracturelab.training, fracturelab.training.config"
    modules = ["torch", "fracturelab.training.trainer", "fracturelab.training.device"]
    assert _loaded_after(statement, modules) == []


def test_a_name_of_the_trainer_loads_it_on_first_use() -> None:
    statement = "from fracturelab.training import fit"
    assert _loaded_after(statement, ["torch", "fracturelab.training.trainer"]) == [
        "torch",
        "fracturelab.training.trainer",
    ]


def test_every_public_name_is_its_home_module_s_object() -> None:
    homes = {
        "FitResult": trainer,
        "TrainConfig": config,
        "fit": trainer,
        "is_main_process": distributed,
        "launch": distributed,
        "seed_everything": device,
        "select_device": device,
    }
    assert sorted(training.__all__) == sorted(homes)
    for name, module in homes.items():
        assert getattr(training, name) is getattr(module, name), name
        assert name in dir(training)
    assert trainer.TrainConfig is config.TrainConfig


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        training.no_such_name  # noqa: B018 - the attribute access is the test
