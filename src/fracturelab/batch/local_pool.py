"""The local engine: worker processes that each read one scan at a time.

Not a ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies, the whole
executor breaks and every scan in flight fails with it, so the scan that killed its worker
cannot be told from the innocent ones. Here each worker has its own pipe; when a worker dies
the scan it held (and only that scan) is reported ``crashed``, the worker is replaced and the
others go on. Workers start from a fork server that has imported the reading code once (spawn
where there is no fork server), and each keeps its spine model between scans.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from fracturelab.batch.task import ScanTask, TaskOutcome, process_scan
from fracturelab.threads import share_cores, threads_per_worker

__all__ = ["LocalPool"]


def _worker_main(connection: Connection, threads: int) -> None:
    """A worker's loop: receive a task, read the scan, send the outcome; ``None`` stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides when to stop
    share_cores(threads)  # the workers share the cores instead of each taking them all
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        outcome = process_scan(task)
        try:
            connection.send(outcome)
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Worker:
    process: Any
    connection: Connection
    task: ScanTask | None = None
    since: float = 0.0


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["fracturelab.batch.task", "fracturelab.spine.scan"])
        return context
    return multiprocessing.get_context("spawn")


class LocalPool:
    """``workers`` processes reading scans; see the module docstring.

    Args:
        workers: Number of worker processes.
        task_timeout_s: Stop a worker whose scan runs longer (0: no limit).

    """

    def __init__(self, workers: int, task_timeout_s: float = 0.0) -> None:
        self._context = _context()
        self._timeout = task_timeout_s
        self._threads = threads_per_worker(workers)
        self._workers = [self._start() for _ in range(workers)]

    @property
    def capacity(self) -> int:
        """Scans that may be in flight at once."""
        return len(self._workers)

    @property
    def idle(self) -> int:
        """Workers without a scan."""
        return sum(worker.task is None for worker in self._workers)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_worker_main, args=(child, self._threads), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, task: ScanTask) -> None:
        """Give ``task`` to an idle worker (call only when :attr:`idle` is above 0)."""
        worker = next(w for w in self._workers if w.task is None)
        try:
            worker.connection.send(task)
        except (BrokenPipeError, OSError):  # it died while idle: replace it and retry
            self._replace(worker)
            worker = next(w for w in self._workers if w.task is None)
            worker.connection.send(task)
        worker.task = task
        worker.since = time.monotonic()

    def wait(self, timeout: float) -> list[TaskOutcome]:
        """Wait up to ``timeout`` s for outcomes; a dead worker's scan comes back ``crashed``."""
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        handles: list[Any] = [w.connection for w in busy] + [w.process.sentinel for w in busy]
        ready = set(wait(handles, timeout))
        outcomes = []
        for worker in busy:
            task = worker.task
            assert task is not None
            outcome = None
            if worker.connection in ready or worker.process.sentinel in ready:
                try:
                    if worker.connection.poll():
                        outcome = worker.connection.recv()
                except (EOFError, OSError):
                    outcome = None
                if outcome is None and not worker.process.is_alive():
                    outcome = self._died(worker, task)
            elif self._timeout and time.monotonic() - worker.since > self._timeout:
                worker.process.kill()
                worker.process.join()
                outcome = TaskOutcome(
                    task.key,
                    "crashed",
                    f"stopped after --task-timeout {self._timeout:g} s",
                    elapsed_s=time.monotonic() - worker.since,
                )
                self._replace(worker)
            if outcome is not None:
                worker.task = None
                outcomes.append(outcome)
        return outcomes

    def _died(self, worker: _Worker, task: ScanTask) -> TaskOutcome:
        worker.process.join()
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        outcome = TaskOutcome(
            task.key,
            "crashed",
            f"the worker process died ({how}) while reading the scan",
            elapsed_s=time.monotonic() - worker.since,
        )
        self._replace(worker)
        return outcome

    def _replace(self, worker: _Worker) -> None:
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.connection.close()
        fresh = self._start()
        index = self._workers.index(worker)
        self._workers[index] = fresh

    def close(self) -> None:
        """Stop the workers (scans in flight are abandoned; their rows stay ``running``)."""
        for worker in self._workers:
            try:
                if worker.task is None:
                    worker.connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + 5.0
        for worker in self._workers:
            if worker.task is not None:
                worker.process.kill()
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.connection.close()
