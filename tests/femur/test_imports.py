"""What importing a femur module loads: settings without PyTorch, reporting without the trainer."""

from __future__ import annotations

import subprocess
import sys


def _loaded_after(statement: str, modules: list[str]) -> list[str]:
    """Run ``statement`` in a fresh interpreter; return which of ``modules`` it loaded."""
    code = f"import sys; {statement}; print(*[m for m in {modules!r} if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.split()


def test_femur_file_contract_and_presets_load_no_torch() -> None:
    statement = "import fracturelab.femur.contract, fracturelab.femur.presets, fracturelab.femur"
    assert _loaded_after(statement, ["torch", "monai"]) == []


def test_femur_config_loads_neither_the_networks_nor_monai() -> None:
    loaded = _loaded_after(
        "import fracturelab.femur.config",
        ["monai", "fracturelab.femur.networks", "fracturelab.femur.data"],
    )
    assert loaded == []


def test_femur_config_does_not_import_torch() -> None:
    code = "import fracturelab.femur.config, sys; assert 'torch' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()


def test_synthetic_femur_data_needs_no_torch() -> None:
    assert _loaded_after("import fracturelab.synth.femur", ["torch", "monai"]) == []


def test_reporting_does_not_import_the_trainer() -> None:
    """experiment -> report -> analysis/figures -> result: reading results never trains."""
    assert _loaded_after("import fracturelab.femur.report", ["fracturelab.femur.experiment"]) == []
