"""Worker processes sharing the cores (fracturelab.threads)."""

import subprocess
import sys

import pytest

from fracturelab.threads import share_cores, threads_per_worker


def test_share_cores_limits_every_library_in_the_process() -> None:
    # in a fresh process, so that this test process keeps its threads
    code = (
        "import os, torch, SimpleITK as sitk; from threadpoolctl import threadpool_info;"
        "from fracturelab.threads import share_cores; share_cores(1);"
        "print(os.environ['OMP_NUM_THREADS'], torch.get_num_threads(),"
        " sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),"
        " max(p['num_threads'] for p in threadpool_info()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1", "1", "1"]


def test_threads_per_worker_shares_the_cores_out() -> None:
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads_per_worker(1) == cores
    assert threads_per_worker(2 * (cores or 1)) == 1  # never below one
    with pytest.raises(ValueError, match="at least 1"):
        share_cores(0)
