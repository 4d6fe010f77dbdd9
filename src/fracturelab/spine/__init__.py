"""Spine CT: per-vertebra morphometry, Genant grading and reports."""

__all__: list[str] = []
