"""``batch status``: counts by state, failures with their reasons, throughput."""

from __future__ import annotations

from fracturelab.batch.record import STATES
from fracturelab.batch.store import ResultsStore

__all__ = ["status_lines"]


def status_lines(results_url: str, *, max_failures: int = 50) -> list[str]:
    """The lines ``batch status`` prints for a results database.

    Args:
        results_url: The results database (it must exist: nothing is created).
        max_failures: Failed, quarantined and skipped rows listed at most.

    """
    store = ResultsStore.existing(results_url)
    try:
        records = store.records()
    finally:
        store.dispose()
    counts = {state: sum(r.state == state for r in records) for state in STATES}
    lines = [f"{len(records)} scan(s): " + ", ".join(f"{counts[s]} {s}" for s in STATES)]
    done = [r for r in records if r.state == "done" and r.finished_at and r.started_at]
    if done:
        first = min(r.started_at for r in done if r.started_at)
        last = max(r.finished_at for r in done if r.finished_at)
        span = (last - first).total_seconds()
        per_scan = sum(r.elapsed_s or 0.0 for r in done) / len(done)
        rate = f"{60.0 * len(done) / span:.1f} scans/min" if span > 0 else "n/a"
        lines.append(f"throughput: {rate} over {span:.0f} s; {per_scan:.1f} s per scan in a worker")
    problems = [r for r in records if r.state in ("failed", "quarantined", "skipped")]
    for record in problems[:max_failures]:
        lines.append(f"  {record.state}: {record.key} ({record.source}): {record.error}")
    if len(problems) > max_failures:
        lines.append(f"  ... and {len(problems) - max_failures} more")
    return lines
