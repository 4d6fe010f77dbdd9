"""Crashes: a worker killed mid-scan, a scan that always kills its worker, the runner killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fracturelab.batch import BatchSettings, ResultsStore, run_batch
from tests.batch.conftest import PhantomSet


def test_worker_deaths(phantoms: PhantomSet, tmp_path: Path) -> None:
    """case1 kills its worker once (retried, done); case2 always (quarantined); others done."""
    mark = tmp_path / "killed-once"
    command = (
        "case {ct} in *case2*) kill -9 $PPID;; "
        f"*case1*) if [ ! -e {mark} ]; then touch {mark}; kill -9 $PPID; fi;; esac; "
        'cp "$(dirname {ct})/seg.nii.gz" {out}'
    )
    manifest = phantoms.manifest(tmp_path, ["case0", "case1", "case2"], masks=False)
    settings = BatchSettings(workers=2, segmenter_command=command, max_attempts=2)
    db = str(tmp_path / "r.db")
    summary = run_batch([manifest], db, settings, show_progress=False)
    assert (summary.done, summary.quarantined, summary.retried) == (2, 1, 2)
    records = {r.case_id: r for r in ResultsStore(db).records()}
    assert records["case0"].state == "done" and records["case0"].attempts == 1
    assert records["case1"].state == "done" and records["case1"].attempts == 2
    assert records["case2"].state == "quarantined" and records["case2"].attempts == 2
    assert "killed by signal 9" in (records["case2"].error or "")
    # a rerun leaves the quarantined scan alone unless asked
    again = run_batch([manifest], db, settings, show_progress=False)
    assert (again.done, again.already_done, again.quarantined) == (0, 2, 0)


def test_runner_killed_then_rerun(phantoms: PhantomSet, tmp_path: Path) -> None:
    """SIGKILL the runner mid-run; the rerun reads what is left, each scan done exactly once."""
    log = tmp_path / "calls.log"
    command = f'echo {{ct}} >> {log}; sleep 0.5; cp "$(dirname {{ct}})/seg.nii.gz" {{out}}'
    cases = ["case0", "case1", "case2", "case3"]
    manifest = phantoms.manifest(tmp_path, cases, masks=False)
    db = str(tmp_path / "r.db")
    code = "import sys; from fracturelab.cli.batch import app; app(sys.argv[1:], prog_name='batch')"
    args = ["run", str(manifest), "--results", db, "--quiet", "--segmenter-command", command]
    runner = subprocess.Popen([sys.executable, "-c", code, *args], start_new_session=True)
    deadline = time.monotonic() + 60
    done_before: set[str] = set()
    try:
        while time.monotonic() < deadline and not done_before:
            time.sleep(0.2)
            if Path(db).exists():
                done_before = {r.key for r in ResultsStore(db).records("done")}
        assert done_before, "the runner did not finish a scan in time"
        os.kill(runner.pid, signal.SIGKILL)
    finally:
        runner.wait()
    assert runner.returncode == -signal.SIGKILL
    calls_before = len(log.read_text(encoding="utf-8").splitlines())
    store = ResultsStore(db)
    assert len(store.records("done")) < len(cases)
    settings = BatchSettings(segmenter_command=command)
    summary = run_batch([manifest], db, settings, show_progress=False)
    records = store.records()
    assert len(records) == len(cases) and len({r.key for r in records}) == len(cases)
    assert all(r.state == "done" for r in records)
    assert summary.already_done == len(done_before)
    assert summary.reclaimed <= 1  # the scan in flight when the runner died, if any
    assert summary.done == len(cases) - len(done_before)
    rerun_calls = log.read_text(encoding="utf-8").splitlines()[calls_before:]
    done_sources = {r.source for r in records if r.key in done_before}
    assert not done_sources & set(rerun_calls)  # nothing done before was read again
    assert len(rerun_calls) == summary.done
