"""Every benchmark script imports: a refactor that moves a name cannot break them unseen."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=[p.stem for p in BENCHMARKS])
def test_benchmark_script_imports(script: Path) -> None:
    spec = importlib.util.spec_from_file_location(f"benchmark_{script.stem}", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    sys.path.insert(0, str(script.parent))  # as `python benchmarks/x.py`: they import each other
    try:
        spec.loader.exec_module(module)  # the scripts run only under __main__
    finally:
        sys.modules.pop(spec.name, None)
        sys.path.remove(str(script.parent))
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
