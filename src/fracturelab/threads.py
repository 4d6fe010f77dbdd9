"""Sharing the CPU cores between worker processes: one place that limits a process's threads.

A process pool of ``n`` workers on ``c`` cores runs fastest when each worker uses ``c // n``
threads. Left alone, every worker's BLAS, OpenMP (PyTorch) and ITK (SimpleITK) thread pools
each start as many threads as there are cores, and the workers then fight over them: on two
cores, two batch workers read scans only 1.16x faster than one, and 1.98x with the threads
shared (``benchmarks/batch_throughput.py``).
"""

from __future__ import annotations

import os
import sys

__all__ = ["share_cores", "threads_per_worker"]

#: Environment variables read by OpenMP, MKL, OpenBLAS and numexpr when they start.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                     "NUMEXPR_NUM_THREADS")  # fmt: skip


def threads_per_worker(workers: int) -> int:
    """Threads each of ``workers`` processes may use: the usable cores shared out, at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(1, workers))


def share_cores(threads: int) -> None:
    """Limit this process to ``threads`` threads in every numerical library (call it first).

    Sets the thread environment variables (for libraries loaded later, PyTorch included),
    limits the BLAS and OpenMP pools already loaded (threadpoolctl), and sets PyTorch's and
    SimpleITK's thread counts.

    Args:
        threads: Threads this process may use (>= 1).

    Raises:
        ValueError: If ``threads`` is below 1.

    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
