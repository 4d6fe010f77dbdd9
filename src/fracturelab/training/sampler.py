"""Batches of one training step, shared out over the processes of a distributed run.

Every process draws the same shuffled order from an identically seeded generator and cuts
the same global batches of ``batch_size`` items; each process then keeps its own contiguous
share of every global batch. One optimiser step therefore sees exactly the items that one
process would see with the same seed, whatever the number of processes, and a single-process
run draws its order exactly as ``DataLoader(shuffle=True, generator=...)`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

from torch.utils.data import Sampler

__all__ = ["ShardedBatchSampler", "share"]


def share(size: int, world_size: int, rank: int) -> tuple[int, int]:
    """Return the ``[start, stop)`` slice of a batch of ``size`` items that ``rank`` takes.

    Shares differ by at most one item; the first ``size % world_size`` ranks take one more.

    Args:
        size: Items in the global batch.
        world_size: Processes.
        rank: This process, ``0 <= rank < world_size``.

    Returns:
        The slice bounds (``start == stop`` when the batch has fewer items than processes
        and this rank gets none).

    """
    base, extra = divmod(size, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedBatchSampler(Sampler[list[int]]):
    """This process's share of each global batch drawn from ``sampler``.

    Args:
        sampler: The order of items over the whole data (for training, a ``RandomSampler``
            with a generator seeded identically in every process).
        batch_size: Items per global batch (per optimiser step, over all processes); the last
            batch of an epoch may be smaller (nothing is dropped or repeated).
        rank: This process.
        world_size: Processes.

    """

    def __init__(
        self, sampler: Sampler[int], batch_size: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} is not in [0, world_size={world_size})")
        if not isinstance(sampler, Sized):
            raise TypeError("the sampler must have a length")
        self.sampler = sampler
        self.batch_size = batch_size
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        """Global batches (optimiser steps) per epoch."""
        return -(-len(self.sampler) // self.batch_size)

    def sizes(self, index: int) -> tuple[int, int]:
        """Return ``(items of this rank, items of the whole batch)`` of batch ``index``."""
        total = len(self.sampler)
        size = min(self.batch_size, total - index * self.batch_size)
        start, stop = share(size, self.world_size, self.rank)
        return stop - start, size

    def weight(self, index: int) -> float:
        """Factor on this rank's mean loss of batch ``index`` for an exact global mean.

        Distributed data parallel averages the gradients of the ranks; with unequal shares
        (the last batch of an epoch), weighting each rank's mean loss by ``world_size * n_rank
        / n_batch`` makes that average the gradient of the mean loss over the whole batch. A
        rank whose share is empty computes its loss on one stand-in item with weight 0.
        """
        mine, size = self.sizes(index)
        return self.world_size * mine / size

    def __iter__(self) -> Iterator[list[int]]:
        """Yield this rank's item indices of each global batch, in order."""
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield self._mine(batch)
                batch = []
        if batch:
            yield self._mine(batch)

    def _mine(self, batch: list[int]) -> list[int]:
        start, stop = share(len(batch), self.world_size, self.rank)
        return batch[start:stop] if stop > start else batch[:1]
