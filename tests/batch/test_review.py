"""From the background reader to the radiologists' worklist and back, through the commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from fracturelab.batch import BatchSettings, run_batch
from fracturelab.workstation.db import Database
from fracturelab.workstation.models import Case
from tests.batch.conftest import PhantomSet
from tests.workstation.helpers import cli_ok, cli_runner


def test_flagged_scans_reach_the_worklist_with_the_segmenters_mask(
    phantoms: PhantomSet, tmp_path: Path
) -> None:
    results = str(tmp_path / "results.db")
    manifest = phantoms.manifest(tmp_path, ["case0", "case1", "case3"], masks=False)
    settings = BatchSettings(
        segmenter_command=phantoms.copy_cmd(), out=tmp_path / "out", overview=False
    )
    summary = run_batch([manifest], results, settings, show_progress=False)
    assert summary.done == 3
    db = f"sqlite:///{tmp_path / 'workstation.db'}"
    cli_ok("init", "--db", db)
    output = cli_ok("import", "findings", "--results", results, "--db", db)
    assert "2 added" in output
    with Database(db).session() as session:
        cases = {c.name: c for c in session.scalars(select(Case))}
    # the phantoms' drawn fractures of grade >= 2 are case1 (L1) and case3 (L2)
    assert sorted(cases) == ["case1", "case3"]
    for name, level in (("case1", "L1"), ("case3", "L2")):
        case = cases[name]
        assert case.suggestion is not None
        assert case.suggestion[level]["genant_grade"] == phantoms.truth[name][level]
        # the segmenter wrote its mask into a temporary folder: the copy beside the results
        assert case.labels_path == str((tmp_path / "out" / name / "vertebrae.nii.gz").resolve())
        assert Path(case.labels_path).is_file()
    # the review confirms case1's L1, rejects case3's L2 and finds nothing else
    review = tmp_path / "review.csv"
    rows = ["case,level,genant_grade,not_assessable"]
    rows += [f"case1,{lvl},{2 if lvl == 'L1' else 0},false" for lvl in ("T12", "L1", "L2")]
    rows += [f"case3,{lvl},0,false" for lvl in ("T12", "L1", "L2")]
    review.write_text("\n".join(rows) + "\n", encoding="utf-8")
    from fracturelab.cli.main import app

    result = cli_runner.invoke(
        app,
        ["batch", "compare", "--results", results, "--review", str(review), "--out",
         str(tmp_path / "cmp")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert comparison["vertebra_counts"] == {"tp": 1, "fp": 1, "fn": 0, "tn": 4}
    assert comparison["scan_ppv"]["value"] == 0.5
    assert comparison["scan_sensitivity"]["value"] is None  # no unflagged scan was reviewed


def test_relative_inputs_are_recorded_as_absolute_paths(
    phantoms: PhantomSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the worklist is read by a server started elsewhere: relative paths would point nowhere
    monkeypatch.chdir(phantoms.root)
    results = str(tmp_path / "results.db")
    settings = BatchSettings(
        segmenter_command=phantoms.copy_cmd(), out=Path("out-relative"), overview=False
    )
    assert run_batch([Path("case1")], results, settings, show_progress=False).done == 1
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'workstation.db'}"
    cli_ok("init", "--db", db)
    cli_ok("import", "findings", "--results", results, "--db", db)
    with Database(db).session() as session:
        (case,) = session.scalars(select(Case))
    assert Path(case.image_path) == phantoms.ct("case1")
    assert Path(case.labels_path or "").is_absolute() and Path(case.labels_path or "").is_file()
    from fracturelab.batch import ResultsStore

    store = ResultsStore(results)
    (record,) = store.records("done")
    assert record.out_dir is not None and Path(record.out_dir).is_absolute()
    assert Path(record.out_dir).is_dir()
    store.dispose()


def test_bad_inputs_of_compare_and_import_findings_are_one_line(tmp_path: Path) -> None:
    from fracturelab.cli.main import app
    from tests.cli.helpers import one_line_error

    review = tmp_path / "review.csv"
    review.write_text("case,level,genant_grade\nA,L1,2\n", encoding="utf-8")
    missing = str(tmp_path / "missing.db")
    out = str(tmp_path / "cmp")
    result = cli_runner.invoke(
        app, ["batch", "compare", "--results", missing, "--review", str(review), "--out", out]
    )
    one_line_error(result, "--results", "no such results database", "batch run --results")
    result = cli_runner.invoke(
        app, ["batch", "compare", "--results", missing, "--review", "nope.csv", "--out", out]
    )
    one_line_error(result, "--review nope.csv", "workstation export --task spine")
    assert not (tmp_path / "cmp").exists()
    db = f"sqlite:///{tmp_path / 'workstation.db'}"
    cli_ok("init", "--db", db)
    result = cli_runner.invoke(
        app, ["workstation", "import", "findings", "--results", missing, "--db", db]
    )
    one_line_error(result, "--results", "no such results database")
    # the workstation's own database given as --results: refused, and nothing added to it
    result = cli_runner.invoke(
        app, ["workstation", "import", "findings", "--results", db.removeprefix("sqlite:///"),
              "--db", db],
    )  # fmt: skip
    one_line_error(result, "--results", "not a results database")
    from sqlalchemy import create_engine, inspect

    engine = create_engine(db)
    assert not [t for t in inspect(engine).get_table_names() if t.startswith("batch_")]
    engine.dispose()
