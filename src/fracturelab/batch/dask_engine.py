"""The Dask engine: the same task function on a Dask cluster (``LocalCluster`` or a scheduler).

Each scan is one Dask task running :func:`fracturelab.batch.task.process_scan`; a worker keeps
its spine model between tasks (the task module's cache). When workers advertise a ``GPU``
resource (``dask worker tcp://host:8786 --resources GPU=1``), scans are sent there with
``resources={"GPU": 1}``; a ``LocalCluster`` on a machine with a CUDA GPU gives each worker
``GPU=1``. The ``LocalCluster`` scheduler is told not to retry a task whose worker died
(``allowed-failures`` 0), so a death is seen at once and charged to that scan's attempts, as on
the local pool; an external scheduler keeps its own setting and a scan it gives up on
(``KilledWorker``) is charged one attempt.
"""

from __future__ import annotations

import importlib
from typing import Any

from fracturelab.batch.task import ScanTask, TaskOutcome, process_scan
from fracturelab.errors import InputError

__all__ = ["DaskEngine"]


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


class DaskEngine:
    """Scans on a Dask cluster.

    Args:
        workers: Workers of the ``LocalCluster`` (ignored with ``scheduler``).
        scheduler: Address of a running scheduler (``tcp://host:8786``), or ``None``.

    Raises:
        InputError: The scheduler cannot be reached.

    """

    def __init__(self, workers: int, scheduler: str | None = None) -> None:
        import dask

        distributed: Any = importlib.import_module("distributed")  # untyped: keep it Any
        Client, LocalCluster = distributed.Client, distributed.LocalCluster  # noqa: N806

        self._cluster: Any = None
        self._client: Any
        if scheduler is None:
            resources = {"GPU": 1} if _cuda_available() else None
            with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    resources=resources,
                )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError) as error:
                raise InputError(
                    f"--scheduler {scheduler}: cannot reach the Dask scheduler ({error}); "
                    "check the address and that `dask scheduler` runs there"
                ) from None
        info = self._client.scheduler_info()["workers"].values()
        self._gpu = any("GPU" in (w.get("resources") or {}) for w in info)
        self._threads = max(1, sum(int(w.get("nthreads", 1)) for w in info))
        self._futures: dict[Any, ScanTask] = {}

    @property
    def capacity(self) -> int:
        """Scans in flight at once: the cluster's threads, plus one queued per thread."""
        return 2 * self._threads

    @property
    def idle(self) -> int:
        """How many more scans may be submitted now."""
        return max(0, self.capacity - len(self._futures))

    def submit(self, task: ScanTask) -> None:
        """Send ``task`` to the cluster."""
        future = self._client.submit(
            process_scan,
            task,
            key=f"fracturelab-scan-{task.key}-{task.attempt}",
            pure=False,
            resources={"GPU": 1} if self._gpu else None,
        )
        self._futures[future] = task

    def wait(self, timeout: float) -> list[TaskOutcome]:
        """Wait up to ``timeout`` s for outcomes; a scan that killed its worker is ``crashed``."""
        distributed: Any = importlib.import_module("distributed")

        if not self._futures:
            return []
        try:
            distributed.wait(list(self._futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        outcomes = []
        for future in [f for f in self._futures if f.done()]:
            task = self._futures.pop(future)
            if future.status == "finished":
                outcomes.append(future.result())
                continue
            error = future.exception()
            outcomes.append(
                TaskOutcome(task.key, "crashed", f"the Dask worker died ({type(error).__name__})")
            )
            future.release()
        return outcomes

    def close(self) -> None:
        """Cancel what is in flight and close the client (and the LocalCluster)."""
        if self._futures:
            self._client.cancel(list(self._futures))
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
