"""One progress bar for long loops over files (Rich, transient, with count and time left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    description: str, total: int, *, show: bool = True
) -> Iterator[Callable[[], None]]:
    """Show a bar of ``total`` steps while the block runs; yield the function that advances it.

    Args:
        description: What is counted, e.g. ``"spine phantoms"``.
        total: Number of steps.
        show: Draw the bar (off in tests and quiet runs; the yielded function then does nothing).

    """
    if not show or total <= 0:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
