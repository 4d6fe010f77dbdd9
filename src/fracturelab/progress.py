"""One progress bar for long loops over files (Rich, transient: count, rate and time left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress_bar", "rate_text"]


def rate_text(steps_per_s: float | None) -> str:
    """The rate shown beside the bar: ``"2.5/s"``, or ``"12.0/min"`` below one a second."""
    if not steps_per_s:
        return ""
    if steps_per_s >= 1.0:
        return f"{steps_per_s:.1f}/s"
    return f"{60.0 * steps_per_s:.1f}/min"


@contextmanager
def progress_bar(
    description: str, total: int, *, show: bool = True
) -> Iterator[Callable[[], None]]:
    """Show a bar of ``total`` steps while the block runs; yield the function that advances it.

    The bar shows the steps done, the rate (steps per second, or per minute when slower than
    one a second) and the time left.

    Args:
        description: What is counted, e.g. ``"spine phantoms"``.
        total: Number of steps.
        show: Draw the bar (off in tests and quiet runs; the yielded function then does nothing).

    """
    if not show or total <= 0:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class _Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(rate_text(speed), style="progress.data.speed")

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
