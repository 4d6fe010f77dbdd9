"""The shared progress bar (fracturelab.progress)."""

from fracturelab.progress import rate_text


def test_progress_rate_per_second_or_per_minute() -> None:
    assert rate_text(2.54) == "2.5/s"
    assert rate_text(0.2) == "12.0/min"  # one step every 5 s
    assert rate_text(None) == rate_text(0.0) == ""
