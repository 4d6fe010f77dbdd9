"""The Dask engine on a LocalCluster of 2 workers gives the local pool's results."""

from __future__ import annotations

from pathlib import Path

from fracturelab.batch import BatchSettings, ResultsStore, run_batch
from tests.batch.conftest import PhantomSet


def test_dask_equals_local(phantoms: PhantomSet, tmp_path: Path) -> None:
    manifest = phantoms.manifest(tmp_path, ["case0", "case1", "case3"])
    results = {}
    for engine in ("local", "dask"):
        db = str(tmp_path / f"{engine}.db")
        settings = BatchSettings(engine=engine, workers=2)
        summary = run_batch([manifest], db, settings, show_progress=False)
        assert summary.done == 3, summary.failures
        results[engine] = {r.case_id: r.result["vertebrae"] for r in ResultsStore(db).records()}  # type: ignore[index]
    assert results["dask"] == results["local"]
    grades = {v["level"]: v["genant_grade"] for v in results["dask"]["case1"]}
    assert grades["L1"] == phantoms.truth["case1"]["L1"] == 2
